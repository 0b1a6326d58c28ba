//! `rstack images [SERVICE...] [--format json] [-q]`: the images the stack's containers were
//! made from, as `docker compose images` lists them (one row per container).

use super::args::Format;
use super::project;
use crate::api::Client;
use crate::api::types::{ContainerView, ImageView};
use anyhow::Result;
use clap::Args;
use serde::Serialize;

#[derive(Debug, Args)]
pub struct ImagesArgs {
    /// Format the output. Values: [table | json]
    #[arg(long, value_enum, default_value = "table")]
    pub format: Format,
    /// Only display IDs
    #[arg(short = 'q', long)]
    pub quiet: bool,
    pub services: Vec<String>,
}

/// One container's image, in `docker compose images --format json`'s keys.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ImageRow {
    #[serde(rename = "ID")]
    pub id: String,
    #[serde(rename = "ContainerName")]
    pub container: String,
    #[serde(rename = "Repository")]
    pub repository: String,
    #[serde(rename = "Tag")]
    pub tag: String,
    #[serde(rename = "Platform")]
    pub platform: String,
    #[serde(rename = "Size")]
    pub size: u64,
    #[serde(rename = "Created", skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
}

/// `repo[:tag][@digest]` split as Docker shows it: the tag is after the last `:` that
/// follows the last `/` (a registry's port is not a tag); a digest-only reference has none.
pub fn split_reference(r: &str) -> (String, String) {
    let r = r.split('@').next().unwrap_or(r);
    let slash = r.rfind('/').map(|i| i + 1).unwrap_or(0);
    match r[slash..].rfind(':') {
        Some(i) => (r[..slash + i].to_string(), r[slash + i + 1..].to_string()),
        None => (r.to_string(), String::new()),
    }
}

/// The same image under Docker's short and long names (`busybox` = `docker.io/library/busybox:latest`).
fn normalized(r: &str) -> String {
    let (repo, tag) = split_reference(r);
    let repo = repo
        .strip_prefix("docker.io/")
        .unwrap_or(&repo)
        .trim_start_matches("library/")
        .to_string();
    let tag = if tag.is_empty() && !r.contains('@') {
        "latest".to_string()
    } else {
        tag
    };
    format!("{repo}:{tag}")
}

/// The id without its `sha256:` prefix.
fn bare_id(id: &str) -> &str {
    id.split_once(':').map(|(_, h)| h).unwrap_or(id)
}

/// One row per container of the named services (all when none), in container name order.
pub fn rows(
    containers: &[ContainerView],
    images: &[ImageView],
    services: &[String],
) -> Vec<ImageRow> {
    let mut out: Vec<ImageRow> = containers
        .iter()
        .filter(|c| services.is_empty() || services.contains(&c.service))
        .map(|c| {
            let img = images
                .iter()
                .find(|i| normalized(&i.reference) == normalized(&c.image));
            let (repository, tag) = split_reference(&c.image);
            ImageRow {
                id: img.map(|i| i.id.clone()).unwrap_or_default(),
                container: c.name.clone(),
                repository,
                tag,
                platform: format!(
                    "linux/{}",
                    std::env::consts::ARCH
                        .replace("x86_64", "amd64")
                        .replace("aarch64", "arm64")
                ),
                size: img.map(|i| i.size).unwrap_or(0),
                created: img.and_then(|i| i.created.clone()),
            }
        })
        .collect();
    out.sort_by(|a, b| a.container.cmp(&b.container));
    out
}

/// Docker's `units.HumanSizeWithPrecision(n, 3)`: three significant digits, powers of 1000.
pub fn human_size(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "kB", "MB", "GB", "TB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1000.0 && u + 1 < UNITS.len() {
        v /= 1000.0;
        u += 1;
    }
    // %.3g: three significant digits, trailing zeros dropped.
    let digits = if v >= 100.0 {
        0
    } else if v >= 10.0 {
        1
    } else {
        2
    };
    let s = format!("{v:.digits$}");
    let s = if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    };
    format!("{s}{}", UNITS[u])
}

pub fn run(cli: &super::args::Cli, client: &Client, a: &ImagesArgs) -> Result<i32> {
    let p = project::project_name(cli)?;
    let containers: Vec<ContainerView> =
        client.call::<(), _>("GET", &format!("/v1/containers?project={p}"), None)?;
    let images: Vec<ImageView> = client.call::<(), _>("GET", "/v1/images", None)?;
    let list = rows(&containers, &images, &a.services);
    if a.quiet {
        let mut seen: Vec<&str> = Vec::new();
        for r in &list {
            let id = bare_id(&r.id);
            if !seen.contains(&id) {
                seen.push(id);
                println!("{id}");
            }
        }
    } else if a.format == Format::Json {
        println!("{}", serde_json::to_string(&list)?);
    } else {
        let titles: Vec<String> = [
            "CONTAINER",
            "REPOSITORY",
            "TAG",
            "PLATFORM",
            "IMAGE ID",
            "SIZE",
        ]
        .map(String::from)
        .to_vec();
        let none = |s: &str| {
            if s.is_empty() {
                "<none>".to_string()
            } else {
                s.to_string()
            }
        };
        let cells: Vec<Vec<String>> = list
            .iter()
            .map(|r| {
                vec![
                    r.container.clone(),
                    none(&r.repository),
                    none(&r.tag),
                    r.platform.clone(),
                    bare_id(&r.id).chars().take(12).collect(),
                    human_size(r.size),
                ]
            })
            .collect();
        print!("{}", super::top::render(&titles, &cells));
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_references_as_docker() {
        let s = |a: &str, b: &str| (a.to_string(), b.to_string());
        assert_eq!(split_reference("busybox:test"), s("busybox", "test"));
        assert_eq!(split_reference("busybox"), s("busybox", ""));
        assert_eq!(
            split_reference("localhost:5000/a/b"),
            s("localhost:5000/a/b", "")
        );
        assert_eq!(
            split_reference("localhost:5000/a:1"),
            s("localhost:5000/a", "1")
        );
        assert_eq!(split_reference("a@sha256:ab"), s("a", ""));
        assert_eq!(normalized("docker.io/library/busybox"), "busybox:latest");
        assert_eq!(normalized("busybox:latest"), "busybox:latest");
    }

    #[test]
    fn sizes_have_three_significant_digits() {
        assert_eq!(human_size(0), "0B");
        assert_eq!(human_size(999), "999B");
        assert_eq!(human_size(1_234), "1.23kB");
        assert_eq!(human_size(4_400_000), "4.4MB");
        assert_eq!(human_size(12_345_678), "12.3MB");
        assert_eq!(human_size(123_456_789), "123MB");
    }

    #[test]
    fn one_row_per_container_with_its_images_id_and_size() {
        let c = |name: &str, service: &str| -> ContainerView {
            serde_json::from_value(serde_json::json!({
                "id": "x", "name": name, "project": "p", "service": service, "state": "running",
                "restarts": 0, "image": "busybox:test", "oom_killed": false, "one_off": false
            }))
            .expect("view")
        };
        let img = ImageView {
            reference: "busybox:test".into(),
            id: "sha256:0123456789abcdef".into(),
            digest: String::new(),
            size: 10,
            compressed_size: 0,
            created: None,
        };
        let got = rows(&[c("p-b-1", "b"), c("p-a-1", "a")], &[img], &[]);
        assert_eq!(got[0].container, "p-a-1");
        assert_eq!(got[0].id, "sha256:0123456789abcdef");
        assert_eq!(
            (got[1].repository.as_str(), got[1].tag.as_str()),
            ("busybox", "test")
        );
        assert_eq!(rows(&[c("p-b-1", "b")], &[], &["a".into()]), vec![]);
        let j = serde_json::to_value(&got[0]).expect("json");
        assert_eq!(j["ContainerName"], "p-a-1");
        assert_eq!(j["Size"], 10);
        assert!(j.get("Created").is_none());
    }
}
