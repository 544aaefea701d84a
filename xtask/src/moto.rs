//! A moto server on a free 127.0.0.1 port, stopped when dropped.
//!
//! It runs through `xtask/python/moto_server.py`, which makes moto's DynamoDB item operations
//! atomic with respect to each other (moto's transactions are not, under concurrency).

use crate::venv::Venv;
use anyhow::{Context, Result, bail};
use std::net::{Ipv4Addr, SocketAddrV4, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct MotoServer {
    child: Child,
    endpoint: String,
}

impl MotoServer {
    pub fn start(venv: &Venv) -> Result<Self> {
        let port = free_port()?;
        let log = crate::workspace_root().join("target/moto.log");
        if let Some(dir) = log.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let log_file =
            std::fs::File::create(&log).with_context(|| format!("creating {}", log.display()))?;
        // moto's own server, with DynamoDB item operations made atomic: see the launcher's docs.
        let launcher = crate::workspace_root().join("xtask/python/moto_server.py");
        let child = Command::new(venv.python())
            .arg(launcher)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(log_file.try_clone()?)
            .stderr(log_file)
            .spawn()
            .context("starting moto_server (run `cargo xtask setup`)")?;
        let mut server = MotoServer {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
        };
        server.wait_ready(port)?;
        Ok(server)
    }

    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    fn wait_ready(&mut self, port: u16) -> Result<()> {
        let deadline = Instant::now() + Duration::from_secs(30);
        let address = SocketAddrV4::new(Ipv4Addr::LOCALHOST, port);
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait()? {
                bail!("moto_server exited with {status}; see target/moto.log");
            }
            if TcpStream::connect_timeout(&address.into(), Duration::from_millis(200)).is_ok() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        bail!("moto_server did not listen on {address} within 30 s")
    }
}

impl Drop for MotoServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> Result<u16> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).context("finding a free port")?;
    Ok(listener.local_addr()?.port())
}
