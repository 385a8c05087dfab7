//! The drill's settings, from the environment.

use relay_core::arn::is_table_name;
use relay_lambda::ConfigError;
use relay_restore::drill::DrillConfig;

const MAX_TABLES_PER_RUN: usize = 50;

/// `DRILL_TABLES_PER_RUN` (1 to 50, default 2), `DRILL_FROM` (a policy vault alias; default the
/// deepest vault of each chain), `DRILL_TAG` (`key=value`: drill every table so tagged),
/// `DRILL_COPY_BACK` (`true`: restore into the table's own account and Region, the full path),
/// `DRILL_NAME_PREFIX` (default `relay-drill-`; the function may delete only tables so named).
pub fn from_env(get: impl Fn(&str) -> Option<String>) -> Result<DrillConfig, ConfigError> {
    let set = |name: &str| {
        get(name)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    };
    let mut config = DrillConfig::default();
    if let Some(v) = set("DRILL_TABLES_PER_RUN") {
        config.tables_per_run = v
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=MAX_TABLES_PER_RUN).contains(n))
            .ok_or_else(|| {
                invalid(
                    "DRILL_TABLES_PER_RUN",
                    format!("'{v}' is not a whole number from 1 to {MAX_TABLES_PER_RUN}"),
                )
            })?;
    }
    config.from = set("DRILL_FROM");
    if let Some(v) = set("DRILL_TAG") {
        let (k, val) = v
            .split_once('=')
            .filter(|(k, _)| !k.is_empty())
            .ok_or_else(|| invalid("DRILL_TAG", format!("'{v}' is not key=value")))?;
        config.drill_tag = Some((k.to_string(), val.to_string()));
    }
    if let Some(v) = set("DRILL_COPY_BACK") {
        config.copy_back = match v.as_str() {
            "true" => true,
            "false" => false,
            _ => {
                return Err(invalid(
                    "DRILL_COPY_BACK",
                    format!("'{v}' is not true or false"),
                ))
            }
        };
    }
    if let Some(v) = set("DRILL_NAME_PREFIX") {
        // A prefix that could name an ordinary table would let the drill delete one.
        if v.len() < 6 || v.len() > 100 || !is_table_name(&v) {
            return Err(invalid(
                "DRILL_NAME_PREFIX",
                format!("'{v}' must be 6 to 100 of a-z A-Z 0-9 _ - ."),
            ));
        }
        config.name_prefix = v;
    }
    Ok(config)
}

fn invalid(name: &'static str, reason: String) -> ConfigError {
    ConfigError::Invalid { name, reason }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |k| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn defaults_and_every_setting_read() {
        assert_eq!(from_env(env(&[])).unwrap(), DrillConfig::default());
        let c = from_env(env(&[
            ("DRILL_TABLES_PER_RUN", "5"),
            ("DRILL_FROM", "dr"),
            ("DRILL_TAG", "drill=yes"),
            ("DRILL_COPY_BACK", "true"),
            ("DRILL_NAME_PREFIX", "my-drill-"),
        ]))
        .unwrap();
        assert_eq!(c.tables_per_run, 5);
        assert_eq!(c.from.as_deref(), Some("dr"));
        assert_eq!(c.drill_tag, Some(("drill".into(), "yes".into())));
        assert!(c.copy_back);
        assert_eq!(c.name_prefix, "my-drill-");
    }

    #[test]
    fn bad_settings_are_named() {
        for (name, value) in [
            ("DRILL_TABLES_PER_RUN", "0"),
            ("DRILL_TABLES_PER_RUN", "many"),
            ("DRILL_TAG", "=x"),
            ("DRILL_COPY_BACK", "yes"),
            ("DRILL_NAME_PREFIX", "a"),
            ("DRILL_NAME_PREFIX", "drill prefix"),
        ] {
            let e = from_env(env(&[(name, value)])).unwrap_err();
            assert!(
                matches!(e, ConfigError::Invalid { name: n, .. } if n == name),
                "{name}={value}: {e}"
            );
        }
    }
}
