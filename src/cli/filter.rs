//! `ps --filter`: `label=KEY` (the label is set) and `label=KEY=VALUE` (set to that value),
//! as docker compose ps filters; several filters must all match.

use crate::api::types::ContainerView;

/// One parsed `--filter`.
#[derive(Debug, PartialEq, Eq)]
pub enum Filter {
    Label(String, Option<String>),
}

/// Parses every `--filter` value; an unknown kind is an error naming the ones there are.
pub fn parse(raw: &[String]) -> anyhow::Result<Vec<Filter>> {
    raw.iter()
        .map(|f| match f.split_once('=') {
            Some(("label", kv)) if !kv.is_empty() => Ok(match kv.split_once('=') {
                Some((k, v)) => Filter::Label(k.to_string(), Some(v.to_string())),
                None => Filter::Label(kv.to_string(), None),
            }),
            _ => anyhow::bail!(
                "invalid filter \"{f}\": rstack ps filters by label=KEY or label=KEY=VALUE"
            ),
        })
        .collect()
}

impl Filter {
    pub fn matches(&self, c: &ContainerView) -> bool {
        match self {
            Filter::Label(k, v) => c
                .labels
                .get(k)
                .is_some_and(|have| v.as_ref().is_none_or(|want| want == have)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_label_filters() {
        let f = parse(&["label=a".into(), "label=b=c=d".into()]).unwrap();
        assert_eq!(
            f,
            [
                Filter::Label("a".into(), None),
                Filter::Label("b".into(), Some("c=d".into()))
            ]
        );
        assert!(parse(&["status=running".into()]).is_err());
        assert!(parse(&["label=".into()]).is_err());
    }
}
