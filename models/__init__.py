"""Model presets, one TOML file per model family; installed as the package data export.model_presets."""
