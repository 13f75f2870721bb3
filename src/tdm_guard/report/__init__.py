"""Reading audit logs: the compliance report (`summary`, `html`, `markdown`, `charts`) and
verification (`verify`), both streaming the logs line by line (`logs`). Decisions are
re-derived through `decide.Evaluator`, never a second decision path."""
