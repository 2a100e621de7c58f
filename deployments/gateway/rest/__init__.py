"""The gateway's HTTP layer, thin over the `DataPlane`: `app` (route table), `endpoints`, `errors` (the one mapping
of errors to responses), `request_body` (415/413), `request_id` (`x-request-id` without Serve in front)."""
