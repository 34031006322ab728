"""`drivelab doctor`: checks of the machine and project (`checks`, `config_options`) and the story of one run
(`run_report`), each finding with its fix."""
