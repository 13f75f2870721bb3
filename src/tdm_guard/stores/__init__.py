"""Where fetched policy files and decisions are kept: the policy-file cache (`sqlite`), the
append-only audit log (`auditlog`) and the validated-declarations cache (`validated`)."""
