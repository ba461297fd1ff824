//! Serves the built web demo (a Next.js static export) at `/`, on the same origin as the API
//! and the service worker. `/visits/<id>` is answered with the visit page: ids are not known
//! when the site is exported.

use std::path::{Path, PathBuf};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use tower::ServiceExt;
use tower_http::services::ServeFile;

use crate::error::ApiError;
use crate::state::AppState;

/// The folder to serve: `--static-dir`, else `web-demo/out` when it exists.
pub fn resolve_dir(configured: Option<&Path>) -> Option<PathBuf> {
    match configured {
        Some(d) => Some(d.to_path_buf()),
        None => {
            let default = PathBuf::from("web-demo/out");
            default.join("index.html").exists().then_some(default)
        }
    }
}

/// Maps a URL path to a file of the export, refusing anything that climbs out of it.
fn file_for(dir: &Path, path: &str) -> Option<PathBuf> {
    let rel = path.trim_start_matches('/');
    if rel
        .split('/')
        .any(|seg| seg == ".." || seg.starts_with('.') && seg.len() > 1 && seg != ".well-known")
        || rel.contains('\\')
    {
        return None;
    }
    let rel = rel.trim_end_matches('/');
    let mut candidates = Vec::new();
    if rel.is_empty() {
        candidates.push(dir.join("index.html"));
    } else {
        candidates.push(dir.join(rel));
        candidates.push(dir.join(format!("{rel}.html")));
        candidates.push(dir.join(rel).join("index.html"));
        if let Some(rest) = rel.strip_prefix("visits/")
            && !rest.is_empty()
            && !rest.contains('/')
        {
            candidates.push(dir.join("visits.html"));
            candidates.push(dir.join("visits/index.html"));
        }
    }
    candidates.into_iter().find(|c| c.is_file())
}

/// The fallback handler for everything outside the API.
pub async fn serve(State(state): State<AppState>, req: Request) -> Response {
    let Some(dir) = state.site_dir.as_deref() else {
        return ApiError::not_found("not found").into_response();
    };
    match file_for(dir, req.uri().path()) {
        Some(file) => {
            // The service worker must always be fresh, or a fixed worker never reaches users.
            let no_cache = file.file_name().is_some_and(|n| n == "sw.js");
            let mut resp = ServeFile::new(file)
                .oneshot(req)
                .await
                .map(IntoResponse::into_response)
                .unwrap_or_else(|e| match e {});
            if no_cache {
                resp.headers_mut().insert(
                    axum::http::header::CACHE_CONTROL,
                    "no-cache".parse().expect("valid header"),
                );
            }
            resp
        }
        None => {
            let page = dir.join("404.html");
            let body = tokio::fs::read(&page)
                .await
                .unwrap_or_else(|_| b"not found".to_vec());
            (
                StatusCode::NOT_FOUND,
                [(axum::http::header::CONTENT_TYPE, "text/html; charset=utf-8")],
                Body::from(body),
            )
                .into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_map_to_export_files_and_never_escape() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::write(d.join("index.html"), "i").unwrap();
        std::fs::write(d.join("visits.html"), "v").unwrap();
        std::fs::write(d.join("guard.html"), "g").unwrap();
        std::fs::write(d.join("sw.js"), "s").unwrap();
        assert_eq!(file_for(d, "/"), Some(d.join("index.html")));
        assert_eq!(file_for(d, "/guard"), Some(d.join("guard.html")));
        assert_eq!(file_for(d, "/visits/0192-abc"), Some(d.join("visits.html")));
        assert_eq!(file_for(d, "/sw.js"), Some(d.join("sw.js")));
        assert_eq!(file_for(d, "/../etc/passwd"), None);
        assert_eq!(file_for(d, "/visits/a/b"), None);
        assert_eq!(file_for(d, "/nothing"), None);
    }
}
