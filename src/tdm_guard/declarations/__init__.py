"""Published declarations and held licences: the data (`model`), reading and validating the
files (`loading`), and matching them against URLs and content metadata (`matching`)."""

from .loading import ParsedCache, bundled_policy_dir, load_any, load_file, validate
from .matching import DeclarationSet
from .model import (
    DECLARATION_SCHEMA,
    LICENCE_SCHEMA,
    Declaration,
    DomainMatcher,
    Licence,
    NameMatcher,
    NoticeMatcher,
    PolicyError,
    normalise_name,
)

__all__ = [
    "DECLARATION_SCHEMA",
    "LICENCE_SCHEMA",
    "Declaration",
    "DeclarationSet",
    "DomainMatcher",
    "Licence",
    "NameMatcher",
    "NoticeMatcher",
    "ParsedCache",
    "PolicyError",
    "bundled_policy_dir",
    "load_any",
    "load_file",
    "normalise_name",
    "validate",
]
