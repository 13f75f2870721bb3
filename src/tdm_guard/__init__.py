"""tdm-guard: may this URL's content be fetched and mined, and if not, why not and whom to ask."""

__version__ = "0.1.0"

from .decide import Evaluator, OriginPolicy, PageResponse, origin_of  # noqa: E402
from .declarations import DeclarationSet  # noqa: E402
from .model import Decision, Profile, Purpose, Reason  # noqa: E402

__all__ = [
    "Decision",
    "DeclarationSet",
    "Evaluator",
    "OriginPolicy",
    "PageResponse",
    "Profile",
    "Purpose",
    "Reason",
    "__version__",
    "origin_of",
]
