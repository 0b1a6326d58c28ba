//! The daemon's own check of the names a request carries. The CLI checks them when it loads
//! a stack file, but any client of the socket can send anything: a project named
//! `../../../tmp/x` must be refused here, whatever sent it.

use crate::model::Stack;
use crate::model::names::{check_project, check_service};

/// A project name and the service names a request refers to.
pub fn names<'a>(
    project: &str,
    services: impl IntoIterator<Item = &'a String>,
) -> Result<(), String> {
    check_project(project).map_err(|e| e.to_string())?;
    for s in services {
        check_service(s).map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// A whole stack: its name, every service's key and name, and the services they depend on.
pub fn stack(stack: &Stack) -> Result<(), String> {
    names(&stack.name, stack.services.keys())?;
    for (key, svc) in &stack.services {
        if svc.name != *key {
            return Err(format!(
                "service \"{key}\" is named \"{}\" in its definition: the two must agree",
                svc.name
            ));
        }
        names(&stack.name, svc.depends_on.keys())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_paths_and_long_names() {
        assert!(names("web", &["api".to_string()]).is_ok());
        let e = names("../../../tmp/x", &[]).unwrap_err();
        assert!(e.contains("invalid project name"), "{e}");
        assert!(names("web", &["../x".to_string()]).is_err());
        let e = names(&"p".repeat(300), &[]).unwrap_err();
        assert!(e.contains("300 bytes"), "{e}");
    }
}
