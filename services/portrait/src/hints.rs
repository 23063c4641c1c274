//! What `portrait run` and `portrait demo` print to reach the stack they
//! started: the page, the CLI, grpcurl and curl, each right for the scheme
//! in force (plain TCP, TLS, mutual TLS) and for authentication.

use std::net::SocketAddr;

use portrait_service::ServerSettings;

/// Where the client commands look for the gateway without `--gateway`.
pub const DEFAULT_GATEWAY: &str = "http://127.0.0.1:50051";

/// How a client reaches one running gateway.
pub struct Reach<'a> {
    gateway: SocketAddr,
    server: &'a ServerSettings,
    auth: bool,
}

impl<'a> Reach<'a> {
    /// The gateway at `gateway` served with `server`'s `tls_*` files;
    /// `auth`: its APIs want a bearer token (`PORTRAIT_TOKEN` in the hints).
    pub fn new(gateway: SocketAddr, server: &'a ServerSettings, auth: bool) -> Self {
        Self {
            gateway,
            server,
            auth,
        }
    }

    fn tls(&self) -> bool {
        !self.server.tls_cert.is_empty()
    }

    /// Mutual TLS: a client presents a certificate, the services' own.
    fn mutual(&self) -> bool {
        self.tls() && !self.server.tls_client_ca.is_empty()
    }

    /// `http://host:port` or `https://host:port`.
    pub fn url(&self) -> String {
        let scheme = if self.tls() { "https" } else { "http" };
        format!("{scheme}://{}", self.gateway)
    }

    /// The 客群画像 page.
    pub fn page(&self) -> String {
        format!("{}/", self.url())
    }

    /// What `portrait query` (or `import`, `sync`…) needs besides its
    /// arguments: the gateway when not the default, the CA (none = the
    /// system's roots trust the certificate) and the client certificate.
    pub fn cli_flags(&self) -> String {
        let mut flags = String::new();
        let url = self.url();
        if url != DEFAULT_GATEWAY {
            flags.push_str(&format!(" --gateway {url}"));
        }
        if self.tls() && !self.server.tls_ca.is_empty() {
            flags.push_str(&format!(" --ca {}", shell_word(&self.server.tls_ca)));
        }
        if self.mutual() {
            flags.push_str(&format!(
                " --tls-cert {} --tls-key {}",
                shell_word(&self.server.tls_cert),
                shell_word(&self.server.tls_key)
            ));
        }
        flags
    }

    /// A `curl` command for `path_and_query` (e.g. `/v1/overview?…`).
    pub fn curl(&self, path_and_query: &str) -> String {
        let mut command = "curl".to_owned();
        if self.tls() && !self.server.tls_ca.is_empty() {
            command.push_str(&format!(" --cacert {}", shell_word(&self.server.tls_ca)));
        }
        if self.mutual() {
            command.push_str(&format!(
                " --cert {} --key {}",
                shell_word(&self.server.tls_cert),
                shell_word(&self.server.tls_key)
            ));
        }
        if self.auth {
            command.push_str(" -H \"Authorization: Bearer $PORTRAIT_TOKEN\"");
        }
        format!("{command} '{}{path_and_query}'", self.url())
    }

    /// A `grpcurl` command calling `method` with the JSON `data`.
    pub fn grpcurl(&self, data: &str, method: &str) -> String {
        let mut command = "grpcurl".to_owned();
        if !self.tls() {
            command.push_str(" -plaintext");
        } else if !self.server.tls_ca.is_empty() {
            command.push_str(&format!(" -cacert {}", shell_word(&self.server.tls_ca)));
        }
        if self.mutual() {
            command.push_str(&format!(
                " -cert {} -key {}",
                shell_word(&self.server.tls_cert),
                shell_word(&self.server.tls_key)
            ));
        }
        if self.auth {
            command.push_str(" -H \"authorization: Bearer $PORTRAIT_TOKEN\"");
        }
        format!("{command} -d '{data}' {} {method}", self.gateway)
    }
}

/// `word` as one shell word: as is when it holds nothing the shell reads,
/// else in single quotes.
fn shell_word(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_alphanumeric() || "/._-+:=,@%".contains(c));
    if plain {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests;
