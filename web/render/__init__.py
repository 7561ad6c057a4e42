"""One renderer per channel and every sentence the assistant says.

``sentences`` holds the table of sentences; ``plain`` renders an Answer as text (SMS, 12345, CLI);
``html`` as the answer card; ``wechat`` fits a reply into WeChat's one budget; ``direct`` builds the one to
three sentences a follow-up asks for; ``messages`` turns a dialogue payload into a channel message;
``pages`` is the one Jinja environment for pages and fragments.
"""
