//! The web console's files, embedded in the binary (no CDN, nothing to
//! install beside it) and served at `/` of the HTTP port, the REST API's
//! origin. The console is plain ES modules (`node/console/`); it signs in
//! with an access token (`/console/session`, which keeps it in an HttpOnly
//! cookie) and reads everything through the REST API. With authentication
//! on, a page load without a session answers 401, its body the console,
//! which shows the sign-in form.

/// One file of the console.
#[derive(Clone, Copy, Debug)]
pub struct Asset {
    /// Its `content-type` (module scripts must be `text/javascript`).
    pub content_type: &'static str,
    /// Its bytes.
    pub bytes: &'static [u8],
    /// The page itself (not a script or stylesheet): it needs a session.
    pub is_page: bool,
}

/// Every file, by the path it is served at.
const ASSETS: &[(&str, &str, &[u8])] = &[
    (
        "/api.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../console/api.js"),
    ),
    (
        "/app.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../console/app.js"),
    ),
    (
        "/index.html",
        "text/html; charset=utf-8",
        include_bytes!("../console/index.html"),
    ),
    (
        "/live.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../console/live.js"),
    ),
    (
        "/pages/cluster.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../console/pages/cluster.js"),
    ),
    (
        "/pages/lb-details.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../console/pages/lb-details.js"),
    ),
    (
        "/pages/lb.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../console/pages/lb.js"),
    ),
    (
        "/pages/resources.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../console/pages/resources.js"),
    ),
    (
        "/store.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../console/store.js"),
    ),
    (
        "/style.css",
        "text/css; charset=utf-8",
        include_bytes!("../console/style.css"),
    ),
    (
        "/ui.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../console/ui.js"),
    ),
];

/// The file served at `path` (`/` is the index), if the console has one.
pub fn asset(path: &str) -> Option<Asset> {
    let path = if path == "/" { "/index.html" } else { path };
    ASSETS
        .iter()
        .find(|(served_at, _, _)| *served_at == path)
        .map(|(_, content_type, bytes)| Asset {
            content_type,
            bytes,
            is_page: path == "/index.html",
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_index_and_every_module_it_loads_are_served() {
        let index = asset("/").expect("an index");
        assert!(index.content_type.starts_with("text/html"));
        let html = String::from_utf8_lossy(index.bytes);
        for (path, content_type, _) in ASSETS {
            if path.ends_with(".js") {
                assert!(content_type.starts_with("text/javascript"), "{path}");
            }
        }
        // Every script and stylesheet the index names is one of the assets.
        for part in html.split(['"', '\'']) {
            if part.ends_with(".js") || part.ends_with(".css") {
                let served = format!("/{}", part.trim_start_matches("./").trim_start_matches('/'));
                assert!(
                    asset(&served).is_some(),
                    "{served} is named by the index but not served"
                );
            }
        }
        assert!(asset("/nothing.js").is_none());
        assert!(asset("/../Cargo.toml").is_none());
    }
}
