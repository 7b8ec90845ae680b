"""How the suite talks to an API beyond single requests: request bodies, waiting for jobs, walking pages."""
