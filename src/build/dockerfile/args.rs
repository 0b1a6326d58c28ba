//! Build-arg scoping for the parts of a build that happen before any stage runs: the ARGs
//! before the first FROM, which only FROM lines (and stages that declare them again) see.

use super::subst::{SubstError, expand};
use super::{Dockerfile, Kind};
use std::collections::BTreeMap;

impl Dockerfile {
    /// The values of the ARGs before the first FROM, in order: a `--build-arg` given for a
    /// declared name wins, else its default expanded with the ARGs before it; a declared
    /// ARG with neither has no value (it is absent). Names given as build args that no ARG
    /// declares are not included (Docker warns about them).
    pub fn meta_args(
        &self,
        build_args: &dyn Fn(&str) -> Option<String>,
    ) -> Result<BTreeMap<String, String>, SubstError> {
        let mut out = BTreeMap::new();
        for ins in &self.args_before_from {
            let Kind::Arg(list) = &ins.kind else { continue };
            for (name, default) in list {
                let value = match (build_args(name), default) {
                    (Some(v), _) => Some(v),
                    (None, Some(d)) => Some(expand(d, &|n| out.get(n).cloned(), self.escape)?),
                    (None, None) => None,
                };
                match value {
                    Some(v) => out.insert(name.clone(), v),
                    None => out.remove(name),
                };
            }
        }
        Ok(out)
    }

    /// The base of stage `index` with the meta args expanded (`FROM ${BASE}`), and the
    /// earlier stage it names, if any.
    pub fn resolved_base(
        &self,
        index: usize,
        meta: &BTreeMap<String, String>,
    ) -> Result<(String, Option<usize>), SubstError> {
        let Some(stage) = self.stages.get(index) else {
            return Ok((String::new(), None));
        };
        let base = expand(&stage.base, &|n| meta.get(n).cloned(), self.escape)?;
        let earlier = self.stage_by_name(&base).filter(|i| *i < index);
        Ok((base, earlier))
    }
}

#[cfg(test)]
mod tests {
    use super::super::parse;

    #[test]
    fn meta_args_and_bases() {
        let df = parse(
            "ARG REG=docker.io\nARG IMG=${REG}/alpine\nARG NONE\nARG STAGE=build\nFROM ${IMG}:3 AS build\nFROM $STAGE\n",
            "Dockerfile",
        )
        .unwrap();
        let given = |n: &str| (n == "REG").then(|| "127.0.0.1:5000".to_string());
        let meta = df.meta_args(&given).unwrap();
        assert_eq!(
            meta.get("IMG").map(String::as_str),
            Some("127.0.0.1:5000/alpine")
        );
        assert!(!meta.contains_key("NONE"));
        assert_eq!(
            df.resolved_base(0, &meta).unwrap(),
            ("127.0.0.1:5000/alpine:3".to_string(), None)
        );
        assert_eq!(
            df.resolved_base(1, &meta).unwrap(),
            ("build".to_string(), Some(0))
        );
        assert_eq!(df.stage_order(None).unwrap(), vec![1]);
        assert_eq!(df.stage_order_with(None, &meta).unwrap(), vec![0, 1]);
    }
}
