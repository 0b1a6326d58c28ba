//! The stack files each project was applied from (`ls` CONFIG FILES), kept with the stack
//! the store saves for it, so they survive a daemon restart.

use super::EngineError;
use super::engine::{Engine, ImageSource};
use super::runtime::Runtime;
use super::supervisor::now_ms;
use crate::model::Stack;
use std::collections::BTreeSet;

/// The files to record for `new`: its own, or (a request that names none, such as
/// `scale`) those recorded before.
pub fn files_to_keep(new: &Stack, old: Option<&Stack>) -> Option<Vec<String>> {
    match (new.config_files.is_empty(), old) {
        (true, Some(o)) if !o.config_files.is_empty() => Some(o.config_files.clone()),
        _ => None,
    }
}

impl<R: Runtime, I: ImageSource> Engine<R, I> {
    /// Saves the stack `up` converges to; a stack without files keeps the recorded ones.
    pub(super) fn put_project_keeping_files(&self, stack: &Stack) -> Result<(), EngineError> {
        let old = match stack.config_files.is_empty() {
            true => self.store.project(&stack.name)?,
            false => None,
        };
        match files_to_keep(stack, old.as_ref()) {
            Some(files) => {
                let mut s = stack.clone();
                s.config_files = files;
                self.store.put_project(&s, now_ms())?;
            }
            None => self.store.put_project(stack, now_ms())?,
        }
        Ok(())
    }

    /// Each project with a container, and the stack files it was applied from (empty when
    /// not recorded: applied by an older rstack, or by `run` alone).
    pub fn project_files(&self) -> Result<Vec<(String, Vec<String>)>, EngineError> {
        let names: BTreeSet<String> = self
            .store
            .containers(None)?
            .into_iter()
            .map(|r| r.project)
            .collect();
        let mut out = Vec::new();
        for n in names {
            let files = self
                .store
                .project(&n)?
                .map(|s| s.config_files)
                .unwrap_or_default();
            out.push((n, files));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stack(files: &[&str]) -> Stack {
        Stack {
            name: "p".into(),
            config_files: files.iter().map(|f| f.to_string()).collect(),
            ..Default::default()
        }
    }

    #[test]
    fn a_stack_with_files_records_its_own() {
        assert_eq!(
            files_to_keep(&stack(&["/b.yaml"]), Some(&stack(&["/a.yaml"]))),
            None
        );
    }

    #[test]
    fn a_stack_without_files_keeps_the_recorded_ones() {
        assert_eq!(
            files_to_keep(&stack(&[]), Some(&stack(&["/a.yaml", "/b.yaml"]))),
            Some(vec!["/a.yaml".to_string(), "/b.yaml".to_string()])
        );
        assert_eq!(files_to_keep(&stack(&[]), None), None);
    }
}
