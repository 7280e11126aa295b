//! List, download and upload with key and with password login.

use leganto_shared::error::ErrorName as _;
use std::fs::File;
use std::time::{Duration, Instant, SystemTime};

use leganto_shared::sftp::UploadOutcome;
use leganto_tests::sshd::LoginAuth;

use super::{bytes, client, server, USER};

async fn list_download_upload_round_trip(auth: LoginAuth) {
    let server = server();
    let export = b"course_code,section\nPHY101,1\n".to_vec();
    let path = server
        .put_file(USER, "leganto_export_20261128.csv", &export)
        .unwrap();
    let mtime = SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_000_000);
    File::options()
        .write(true)
        .open(&path)
        .unwrap()
        .set_modified(mtime)
        .unwrap();
    std::fs::create_dir(server.directory(USER).join("archive")).unwrap();
    let sftp = client(&server, auth);

    let files = sftp.list().await.unwrap();
    assert_eq!(files.len(), 1, "directories are not listed: {files:?}");
    assert_eq!(files[0].name, "leganto_export_20261128.csv");
    assert_eq!(files[0].size, export.len() as u64);
    assert_eq!(files[0].mtime.unwrap().timestamp(), 1_795_000_000);

    assert_eq!(
        sftp.download("leganto_export_20261128.csv").await.unwrap(),
        export
    );

    let loader = b"COURSE_CODE\tSECTION\nPHY101\t1\n".to_vec();
    let outcome = sftp
        .upload_atomic("20261128092514.txt", loader.clone())
        .await
        .unwrap();
    assert_eq!(outcome, UploadOutcome::Uploaded);
    assert_eq!(
        server.read_file(USER, "20261128092514.txt").unwrap(),
        loader
    );
    let names: Vec<String> = sftp
        .list()
        .await
        .unwrap()
        .into_iter()
        .map(|f| f.name)
        .collect();
    assert_eq!(names, ["20261128092514.txt", "leganto_export_20261128.csv"]);
}

#[tokio::test]
async fn key_login_lists_downloads_and_uploads() {
    list_download_upload_round_trip(LoginAuth::Key).await;
}

#[tokio::test]
async fn password_login_lists_downloads_and_uploads() {
    list_download_upload_round_trip(LoginAuth::Password).await;
}

#[tokio::test]
async fn empty_directory_lists_nothing() {
    let server = server();
    assert!(client(&server, LoginAuth::Key)
        .list()
        .await
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn downloading_a_missing_file_is_not_found() {
    let server = server();
    let err = client(&server, LoginAuth::Key)
        .download("nope.csv")
        .await
        .unwrap_err();
    assert_eq!(err.error_name(), "SftpNotFound", "{err}");
    assert!(err.to_string().contains("nope.csv"), "{err}");
}

#[tokio::test]
async fn a_five_megabyte_file_round_trips_byte_for_byte() {
    let server = server();
    let sftp = client(&server, LoginAuth::Key);
    let big = bytes(5 * 1024 * 1024, 42);

    let started = Instant::now();
    assert_eq!(
        sftp.upload_atomic("big.bin", big.clone()).await.unwrap(),
        UploadOutcome::Uploaded
    );
    let uploaded = started.elapsed();
    assert!(
        server.read_file(USER, "big.bin").unwrap() == big,
        "stored bytes differ"
    );

    let started = Instant::now();
    let back = sftp.download("big.bin").await.unwrap();
    let downloaded = started.elapsed();
    assert!(back == big, "downloaded bytes differ");
    // A figure for the record, not an assertion.
    eprintln!("5 MiB over loopback sshd: upload {uploaded:?}, download {downloaded:?}");
}

#[tokio::test]
async fn two_accounts_on_one_server_see_only_their_own_directory() {
    let server = leganto_tests::sshd::SshServer::start(
        leganto_tests::sshd::SshServerOptions::cem_and_alma(),
    )
    .unwrap();
    server
        .put_file("cem_sftp", "leganto_export_20261128.csv", b"cem")
        .unwrap();
    let cem = leganto_shared::sftp::SftpClient::new(
        super::login(&server, "cem_sftp", LoginAuth::Password),
        super::TIMEOUT,
    );
    let alma = leganto_shared::sftp::SftpClient::new(
        super::login(&server, "alma_sftp", LoginAuth::Key),
        super::TIMEOUT,
    );
    assert_eq!(cem.list().await.unwrap().len(), 1);
    assert!(alma.list().await.unwrap().is_empty());
    alma.upload_atomic("20261128092514.txt", b"loader".to_vec())
        .await
        .unwrap();
    assert_eq!(server.files("alma_sftp").unwrap(), ["20261128092514.txt"]);
    assert_eq!(
        server.files("cem_sftp").unwrap(),
        ["leganto_export_20261128.csv"]
    );
}

#[tokio::test]
async fn a_file_over_the_download_limit_fails_clearly_and_nothing_is_read() {
    let server = server();
    server
        .put_file(USER, "leganto_export_20261128.csv", &bytes(4_097, 3))
        .unwrap();
    server
        .put_file(USER, "leganto_export_20261127.csv", &bytes(4_096, 4))
        .unwrap();
    let sftp = client(&server, LoginAuth::Key).with_max_download(4_096);

    let err = sftp
        .download("leganto_export_20261128.csv")
        .await
        .unwrap_err();
    assert_eq!(err.error_name(), "SftpFileTooLarge", "{err}");
    assert!(!err.is_transient());
    let text = err.to_string();
    assert!(text.contains("leganto_export_20261128.csv"), "{text}");
    assert!(text.contains("4097 bytes"), "{text}");
    assert!(text.contains("limit of 4096 bytes"), "{text}");
    assert!(text.contains("SFTP_MAX_DOWNLOAD_MB"), "{text}");
    // Exactly at the limit is still read.
    assert_eq!(
        sftp.download("leganto_export_20261127.csv").await.unwrap(),
        bytes(4_096, 4)
    );
}

#[tokio::test]
async fn a_file_that_sends_more_than_its_listed_size_is_cut_off_at_the_limit() {
    let server = server();
    // /proc/kallsyms stats as 0 bytes and then reads as megabytes: a file that is larger
    // when read than when its size was checked, as one still being written is.
    let path = server.directory(USER).join("leganto_export_20261128.csv");
    std::os::unix::fs::symlink("/proc/kallsyms", &path).unwrap();
    let sftp = client(&server, LoginAuth::Key).with_max_download(4_096);

    let err = sftp
        .download("leganto_export_20261128.csv")
        .await
        .unwrap_err();
    assert_eq!(err.error_name(), "SftpFileTooLarge", "{err}");
    // Refused after one byte past the limit, not from the (zero) size it was listed with.
    assert!(err.to_string().contains("4097 bytes or more"), "{err}");
}
