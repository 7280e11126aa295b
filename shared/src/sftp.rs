//! sftp
