//! `rstack top [SERVICE...]`: each running container's processes, as `docker compose top`
//! prints them: the container's name, then a `ps -ef` table.

use super::args::{Cli, ServicesArgs};
use super::project;
use crate::api::Client;
use crate::api::top::TopView;
use crate::api::types::ServicesRequest;
use anyhow::Result;

/// A table with columns padded to their widest cell, three spaces apart (the last unpadded).
pub fn render(titles: &[String], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = titles.iter().map(|t| t.chars().count()).collect();
    for r in rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |cells: &[String]| {
        let mut s = String::new();
        for (i, c) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                s.push_str(c);
            } else {
                let w = widths.get(i).copied().unwrap_or(0);
                s.push_str(&format!("{c:<w$}   "));
            }
        }
        s.push('\n');
        s
    };
    let mut out = line(titles);
    for r in rows {
        out.push_str(&line(r));
    }
    out
}

pub fn run(cli: &Cli, client: &Client, a: &ServicesArgs) -> Result<i32> {
    let p = project::project_name(cli)?;
    let req = ServicesRequest {
        services: a.services.clone(),
        ..Default::default()
    };
    let views: Vec<TopView> = client.call("POST", &format!("/v1/projects/{p}/top"), Some(&req))?;
    let mut first = true;
    for v in views {
        if !first {
            println!();
        }
        first = false;
        println!("{}", v.name);
        print!("{}", render(&v.titles, &v.processes));
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_aligned_columns() {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        let got = render(
            &s(&["UID", "PID", "CMD"]),
            &[s(&["root", "12345", "sleep 1000"])],
        );
        assert_eq!(got, "UID    PID     CMD\nroot   12345   sleep 1000\n");
    }
}
