"""Exception tree shared by every stage.

``SupportflowError``
 ├── ``TransientError``  — retry (broker hiccup, model timeout, 429/5xx)
 └── ``PermanentError``  — do not retry: dead-letter the message with stage, class and reason
      ├── ``SchemaError``      — bytes that do not decode as the expected record
      └── ``InvalidInputError`` — decodes but cannot become a ticket (empty text, unknown channel, too big)
"""


class SupportflowError(Exception):
    """Base of every error supportflow raises on purpose."""


class TransientError(SupportflowError):
    """Worth retrying: the same input may succeed later."""


class PermanentError(SupportflowError):
    """Retrying cannot help; the message goes to the dead-letter topic."""


class SchemaError(PermanentError):
    """Bytes that do not decode as the expected record."""


class InvalidInputError(PermanentError):
    """Well-formed bytes that cannot become a ticket."""
