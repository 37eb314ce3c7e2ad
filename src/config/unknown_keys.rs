//! Which keys `.agevault.toml` may hold: an unknown one is an error naming its line and
//! the nearest known key, because a misspelled `[rotaton]` would silently drop a policy.

use std::ops::Range;

use serde::de::{self, Deserialize, Deserializer, Visitor};

use crate::config::{ConfigFile, ExecProfile, RecipientEntry, SecretInfo};

/// Top-level tables other features own; accepted here without being interpreted.
const RESERVED_TOP_LEVEL: [&str; 3] = ["scopes", "openbao", "trust"];

/// The same verdict as [`check`] from the already-parsed value, without parsing the
/// text again: only when a key is unknown is the text re-parsed for its line number.
pub fn check_value(text: &str, value: &toml::Value) -> Result<(), String> {
    let Some(root) = value.as_table() else {
        return Ok(());
    };
    let mut top: Vec<&str> = struct_fields::<ConfigFile>().to_vec();
    top.extend(RESERVED_TOP_LEVEL);
    let unknown_in = |table: &toml::map::Map<String, toml::Value>, known: &[&str]| {
        table.keys().any(|k| !known.contains(&k.as_str()))
    };
    let mut suspicious = unknown_in(root, &top);
    for (table, fields) in [
        ("recipients", struct_fields::<RecipientEntry>()),
        ("exec", struct_fields::<ExecProfile>()),
        ("secrets", struct_fields::<SecretInfo>()),
    ] {
        if let Some(entries) = root.get(table).and_then(toml::Value::as_table) {
            suspicious |= entries
                .values()
                .filter_map(toml::Value::as_table)
                .any(|entry| unknown_in(entry, fields));
        }
    }
    if suspicious {
        check(text)
    } else {
        Ok(())
    }
}

/// Refuses the first key that no part of agevault reads. Text that is not valid TOML
/// passes: the parser after this reports the syntax error.
pub fn check(text: &str) -> Result<(), String> {
    let Ok(doc) = toml_edit::ImDocument::parse(text) else {
        return Ok(());
    };
    let root = doc.as_table();
    let mut top: Vec<&str> = struct_fields::<ConfigFile>().to_vec();
    top.extend(RESERVED_TOP_LEVEL);
    check_keys(text, root, &top)?;
    for (table, fields) in [
        ("recipients", struct_fields::<RecipientEntry>()),
        ("exec", struct_fields::<ExecProfile>()),
        ("secrets", struct_fields::<SecretInfo>()),
    ] {
        // A wrong shape (`recipients = 5`) is the deserializer's to report.
        let Some(entries) = root.get(table).and_then(toml_edit::Item::as_table_like) else {
            continue;
        };
        for (_, entry) in entries.iter() {
            if let Some(entry) = entry.as_table_like() {
                check_keys(text, entry, fields)?;
            }
        }
    }
    Ok(())
}

fn check_keys(text: &str, table: &dyn toml_edit::TableLike, known: &[&str]) -> Result<(), String> {
    for (name, item) in table.iter() {
        if known.contains(&name) {
            continue;
        }
        let span = table
            .key(name)
            .and_then(toml_edit::Key::span)
            .or_else(|| first_span(item));
        let line = span.map_or_else(String::new, |s| format!("line {}: ", line_of(text, &s)));
        let near = nearest(name, known);
        let name = crate::terminal::sanitize(name);
        return Err(match near {
            Some(near) => format!("{line}unknown key `{name}`; did you mean `{near}`?"),
            None => format!(
                "{line}unknown key `{name}`; known keys here: {}",
                known.join(", ")
            ),
        });
    }
    Ok(())
}

/// Where an item was written; an implicit table (`[a.b]` makes `a`) has no span of its own.
fn first_span(item: &toml_edit::Item) -> Option<Range<usize>> {
    item.span().or_else(|| {
        let table = item.as_table_like()?;
        table.iter().find_map(|(name, child)| {
            table
                .key(name)
                .and_then(toml_edit::Key::span)
                .or_else(|| first_span(child))
        })
    })
}

/// The 1-based line of `text` on which `span` starts.
pub fn line_of(text: &str, span: &Range<usize>) -> usize {
    text.as_bytes()[..span.start.min(text.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// The known key closest to `name`, if it is close enough to be a typo.
fn nearest<'a>(name: &str, known: &[&'a str]) -> Option<&'a str> {
    let budget = (name.chars().count() / 3).clamp(1, 3);
    known
        .iter()
        .map(|k| (edit_distance(name, k), *k))
        .filter(|(d, _)| *d <= budget)
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

/// Optimal string alignment distance: Levenshtein plus adjacent transpositions (`valut`).
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.to_lowercase().chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut rows = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in rows.iter_mut().enumerate() {
        row[0] = i;
    }
    rows[0] = (0..=b.len()).collect();
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut d = (rows[i - 1][j] + 1)
                .min(rows[i][j - 1] + 1)
                .min(rows[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d = d.min(rows[i - 2][j - 2] + 1);
            }
            rows[i][j] = d;
        }
    }
    rows[a.len()][b.len()]
}

/// The field names serde knows for `T`, asked of its derived `Deserialize` itself, so a
/// field added to a config struct is known here without a second list to keep in step.
fn struct_fields<T: for<'de> Deserialize<'de>>() -> &'static [&'static str] {
    struct Probe<'a>(&'a mut &'static [&'static str]);

    impl<'de> Deserializer<'de> for Probe<'_> {
        type Error = de::value::Error;

        fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Self::Error> {
            Err(de::Error::custom("not a struct"))
        }

        fn deserialize_struct<V: Visitor<'de>>(
            self,
            _: &'static str,
            fields: &'static [&'static str],
            _: V,
        ) -> Result<V::Value, Self::Error> {
            *self.0 = fields;
            Err(de::Error::custom("probed"))
        }

        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes
            byte_buf option unit unit_struct newtype_struct seq tuple tuple_struct map enum
            identifier ignored_any
        }
    }

    let mut fields: &'static [&'static str] = &[];
    let _ = T::deserialize(Probe(&mut fields));
    fields
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_lists_come_from_the_structs() {
        assert!(struct_fields::<ConfigFile>().contains(&"rotation"));
        assert_eq!(struct_fields::<RecipientEntry>(), ["key", "role"]);
        assert!(struct_fields::<ExecProfile>().contains(&"clean_env"));
    }

    #[test]
    fn typos_name_the_line_and_the_nearest_key() {
        let e = check("vault = \"v\"\n\n[rotaton]\n\"a/*\" = \"30d\"\n").unwrap_err();
        assert_eq!(e, "line 3: unknown key `rotaton`; did you mean `rotation`?");
        let e = check("valut = \"v\"\n").unwrap_err();
        assert_eq!(e, "line 1: unknown key `valut`; did you mean `vault`?");
        let e = check("# x\n[validte.\"a/b\"]\nx = 1\n").unwrap_err();
        assert_eq!(e, "line 2: unknown key `validte`; did you mean `validate`?");
        let e = check("[recipients.a]\nkey = \"k\"\nrloe = \"host\"\n").unwrap_err();
        assert_eq!(e, "line 3: unknown key `rloe`; did you mean `role`?");
        let e = check("[exec.web]\nclean-env = true\n").unwrap_err();
        assert_eq!(e, "line 2: unknown key `clean-env`; did you mean `clean_env`?");
        let e = check("[secrets.\"db/*\"]\nzzzzzz = \"x\"\n").unwrap_err();
        assert!(
            e.starts_with("line 2: unknown key `zzzzzz`; known keys here: owner"),
            "{e}"
        );
    }

    #[test]
    fn reserved_and_free_form_tables_pass() {
        let text = "vault = \"v\"\n[scopes.x]\nanything = 1\n[openbao]\naddr = \"a\"\n[trust]\nz = 1\n\
                    [rotation]\n\"any/*\" = \"1d\"\n[writers]\nwhoever = \"k\"\n[exec.a.env]\nANY = \"p\"\n";
        check(text).unwrap();
        check("this is [not toml").unwrap();
    }
}
