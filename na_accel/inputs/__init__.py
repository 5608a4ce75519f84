"""What users type and name, parsed and checked once for every command: prompts and prompt files,
sizes and counts, devices and dtypes, files a command reads. Each refusal names the field, the value
and what is allowed."""
