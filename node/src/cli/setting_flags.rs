//! The flags of `fulcrum agent`, one per row of the settings table: each
//! `--flag VALUE` overrides the environment and the file. Built with clap's
//! builder from [`SETTINGS`] rather than written out, so that a new setting
//! gets its flag without another line here.

use clap::{Arg, ArgAction, ArgMatches, Args, FromArgMatches};

use crate::config::settings::{Kind, SETTINGS};
use crate::config::{ConfigError, Given};

/// The settings given as flags, by key.
#[derive(Clone, Debug, Default)]
pub struct SettingFlags {
    values: Vec<(&'static str, String)>,
}

impl SettingFlags {
    /// The flags as configuration values.
    pub fn given(&self) -> Result<Given, ConfigError> {
        Given::from_pairs(self.values.iter().map(|(key, value)| (*key, value.clone())))
    }
}

impl FromArgMatches for SettingFlags {
    fn from_arg_matches(matches: &ArgMatches) -> Result<Self, clap::Error> {
        let mut flags = Self::default();
        flags.update_from_arg_matches(matches)?;
        Ok(flags)
    }

    fn update_from_arg_matches(&mut self, matches: &ArgMatches) -> Result<(), clap::Error> {
        for setting in SETTINGS {
            let value = match setting.kind {
                Kind::Flag => matches.get_flag(setting.key).then(|| "true".to_owned()),
                _ => matches.get_one::<String>(setting.key).cloned(),
            };
            if let Some(value) = value {
                self.values.retain(|(key, _)| *key != setting.key);
                self.values.push((setting.key, value));
            }
        }
        Ok(())
    }
}

impl Args for SettingFlags {
    fn augment_args(command: clap::Command) -> clap::Command {
        SETTINGS.iter().fold(command, |command, setting| {
            let help = format!("{} [{}, {}]", setting.help, setting.key, setting.env);
            let arg = Arg::new(setting.key).long(setting.flag).help(help);
            let arg = match setting.kind {
                Kind::Flag => arg.action(ArgAction::SetTrue),
                Kind::Choice(words) => arg
                    .action(ArgAction::Set)
                    .value_name(words.join("|").to_uppercase()),
                _ => arg.action(ArgAction::Set).value_name(
                    setting
                        .key
                        .rsplit('.')
                        .next()
                        .unwrap_or(setting.key)
                        .to_uppercase(),
                ),
            };
            command.arg(arg)
        })
    }

    fn augment_args_for_update(command: clap::Command) -> clap::Command {
        Self::augment_args(command)
    }
}
