//! Where settings come from: the file, the environment and the flags, each
//! read against the [`SETTINGS`] table and merged with the later winning
//! (file < environment < flags). Values stay raw here; `resolve` types and
//! checks them.

use std::collections::BTreeMap;

use super::ConfigError;
use super::settings::{Kind, SETTINGS, Setting, setting};

/// A value as given: the file's TOML, or text from the environment or a flag.
#[derive(Clone, Debug, PartialEq)]
pub enum Raw {
    /// From the file.
    File(toml::Value),
    /// From the environment or a flag.
    Text(String),
}

/// The given values by key, before typing.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Given {
    values: BTreeMap<&'static str, Raw>,
}

impl Given {
    /// The values of a configuration file. Every key must be a setting; the
    /// file must say `version = 1`.
    pub fn from_file(text: &str) -> Result<Self, ConfigError> {
        let table: toml::Table =
            toml::from_str(text).map_err(|error| ConfigError::new("config", error.to_string()))?;
        let mut given = Self::default();
        let mut version = None;
        for (section, value) in table {
            if section == "version" {
                version = Some(value);
                continue;
            }
            let toml::Value::Table(keys) = value else {
                return Err(ConfigError::new(
                    section,
                    "is not a setting; settings sit in sections ([node], [cluster], ...)",
                ));
            };
            for (name, value) in keys {
                let key = format!("{section}.{name}");
                let setting = known(&key)?;
                given.values.insert(setting.key, Raw::File(value));
            }
        }
        match version {
            Some(toml::Value::Integer(found)) if found == i64::from(super::CONFIG_VERSION) => {
                Ok(given)
            }
            Some(other) => Err(ConfigError::new(
                "version",
                format!(
                    "{other} is not a version this build reads (it reads {})",
                    super::CONFIG_VERSION
                ),
            )),
            None => Err(ConfigError::new(
                "version",
                format!(
                    "is required: write `version = {}` at the top",
                    super::CONFIG_VERSION
                ),
            )),
        }
    }

    /// The values the environment `vars` hold (each setting's `FULCRUM_*` variable).
    pub fn from_environment(vars: impl IntoIterator<Item = (String, String)>) -> Self {
        let mut given = Self::default();
        for (name, value) in vars {
            if let Some(setting) = SETTINGS.iter().find(|setting| setting.env == name) {
                given.values.insert(setting.key, Raw::Text(value));
            }
        }
        given
    }

    /// Values by key, as text (flags; tests).
    pub fn from_pairs<'a>(
        pairs: impl IntoIterator<Item = (&'a str, String)>,
    ) -> Result<Self, ConfigError> {
        let mut given = Self::default();
        for (key, value) in pairs {
            given.values.insert(known(key)?.key, Raw::Text(value));
        }
        Ok(given)
    }

    /// Sets `key` to `value` (text), replacing what was given.
    pub fn set(&mut self, key: &str, value: impl Into<String>) -> Result<(), ConfigError> {
        self.values.insert(known(key)?.key, Raw::Text(value.into()));
        Ok(())
    }

    /// `self`, with `over`'s values winning where it has them.
    pub fn overridden_by(mut self, over: Self) -> Self {
        self.values.extend(over.values);
        self
    }

    /// The raw value of `key`, if given.
    pub(super) fn raw(&self, key: &str) -> Option<&Raw> {
        self.values.get(key)
    }

    /// `key`'s whole number within its bounds, or its default.
    pub(super) fn integer(&self, key: &str) -> Result<Option<u64>, ConfigError> {
        let Kind::Integer { min, max, default } = kind(key) else {
            return Err(not_a(key, "whole number"));
        };
        let value = match self.raw(key) {
            None => return Ok(default),
            Some(Raw::File(toml::Value::Integer(value))) => u64::try_from(*value)
                .map_err(|_| ConfigError::new(key, format!("{value} is below {min}")))?,
            Some(Raw::File(other)) => {
                return Err(ConfigError::new(
                    key,
                    format!("{other} is not a whole number"),
                ));
            }
            Some(Raw::Text(text)) => text.trim().parse().map_err(|error| {
                ConfigError::new(key, format!("{text:?} is not a whole number ({error})"))
            })?,
        };
        if !(min..=max).contains(&value) {
            return Err(ConfigError::new(
                key,
                format!("{value} is out of range; it is {min} to {max}"),
            ));
        }
        Ok(Some(value))
    }

    /// `key`'s whole number, which has a default.
    pub(super) fn integer_or_default(&self, key: &str) -> Result<u64, ConfigError> {
        self.integer(key)?
            .ok_or_else(|| ConfigError::new(key, "is required"))
    }

    /// `key`'s truth value (false when absent).
    pub(super) fn flag(&self, key: &str) -> Result<bool, ConfigError> {
        match self.raw(key) {
            None => Ok(false),
            Some(Raw::File(toml::Value::Boolean(value))) => Ok(*value),
            Some(Raw::Text(text)) => match text.trim() {
                "true" | "1" | "yes" | "" => Ok(true),
                "false" | "0" | "no" => Ok(false),
                other => Err(ConfigError::new(
                    key,
                    format!("{other:?} is not true or false"),
                )),
            },
            Some(Raw::File(other)) => Err(ConfigError::new(
                key,
                format!("{other} is not true or false"),
            )),
        }
    }

    /// `key`'s text, if given (a choice is checked against its words).
    pub(super) fn text(&self, key: &str) -> Result<Option<String>, ConfigError> {
        let text = match self.raw(key) {
            None => return Ok(None),
            Some(Raw::File(toml::Value::String(text))) | Some(Raw::Text(text)) => text.clone(),
            Some(Raw::File(other)) => {
                return Err(ConfigError::new(key, format!("{other} is not text")));
            }
        };
        if let Kind::Choice(words) = kind(key)
            && !words.contains(&text.as_str())
        {
            let words: Vec<String> = words.iter().map(|word| format!("{word:?}")).collect();
            return Err(ConfigError::new(
                key,
                format!("{} are the choices, not {text:?}", words.join(" or ")),
            ));
        }
        Ok(Some(text))
    }

    /// `key`'s list, if given.
    pub(super) fn list(&self, key: &str) -> Result<Option<Vec<String>>, ConfigError> {
        match self.raw(key) {
            None => Ok(None),
            Some(Raw::Text(text)) => Ok(Some(comma_separated(text))),
            Some(Raw::File(toml::Value::Array(items))) => items
                .iter()
                .enumerate()
                .map(|(n, item)| match item {
                    toml::Value::String(text) => Ok(text.clone()),
                    other => Err(ConfigError::new(
                        format!("{key}[{n}]"),
                        format!("{other} is not text"),
                    )),
                })
                .collect::<Result<_, _>>()
                .map(Some),
            Some(Raw::File(other)) => Err(ConfigError::new(key, format!("{other} is not a list"))),
        }
    }
}

/// The parts of a comma-separated list, trimmed, empty ones dropped.
pub(super) fn comma_separated(text: &str) -> Vec<String> {
    text.split(',')
        .map(str::trim)
        .filter(|part| !part.is_empty())
        .map(str::to_owned)
        .collect()
}

fn known(key: &str) -> Result<&'static Setting, ConfigError> {
    setting(key).ok_or_else(|| {
        let section = key.split('.').next().unwrap_or(key);
        let in_section: Vec<&str> = SETTINGS
            .iter()
            .filter(|setting| setting.key.split('.').next() == Some(section))
            .map(|setting| setting.key)
            .collect();
        let hint = if in_section.is_empty() {
            "the sections are node, cluster, dataplane, eip, api, raft, tls, secrets".to_owned()
        } else {
            format!("[{section}] holds {}", in_section.join(", "))
        };
        ConfigError::new(key, format!("is not a setting ({hint})"))
    })
}

fn kind(key: &str) -> Kind {
    setting(key).map_or(Kind::Text, |setting| setting.kind)
}

fn not_a(key: &str, what: &str) -> ConfigError {
    ConfigError::new(
        key,
        format!("is not a {what} setting (a bug in the settings table)"),
    )
}
