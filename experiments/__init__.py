"""Research ideas: each sub-folder holds an idea's config and, when it needs it, its own code."""
