//! Atomic upload: temp name, size check, rename; reruns never duplicate or overwrite.

use leganto_shared::error::ErrorName as _;
use leganto_shared::sftp::{temporary_name, UploadOutcome};
use leganto_tests::sshd::{Account, LoginAuth, SshServer, SshServerOptions};
use std::time::{Duration, SystemTime};

use super::{bytes, client, server, USER};

const NAME: &str = "20261128092514.txt";

#[tokio::test]
async fn upload_writes_a_hidden_temp_file_and_renames_it_to_the_final_name() {
    let server = SshServer::start(SshServerOptions {
        accounts: vec![Account::new(USER)],
        trace_file_syscalls: true,
        ..SshServerOptions::default()
    })
    .unwrap();
    let content = bytes(200_000, 7);
    let outcome = client(&server, LoginAuth::Key)
        .upload_atomic(NAME, content.clone())
        .await
        .unwrap();
    assert_eq!(outcome, UploadOutcome::Uploaded);
    assert_eq!(server.files(USER).unwrap(), [NAME], "temp name is gone");
    assert!(server.read_file(USER, NAME).unwrap() == content);

    // What the server did to the files: the final name is never opened for writing, it only
    // appears as the target of a link/rename from the complete temp file.
    let dir = server.directory(USER).display().to_string();
    let temp = format!("\"{dir}/{}\"", temporary_name(NAME));
    let last = format!("\"{dir}/{NAME}\"");
    let calls = server.file_syscalls();
    let mentions =
        |path: &str| -> Vec<&str> { calls.lines().filter(|l| l.contains(path)).collect() };
    let writes_final: Vec<&str> = mentions(&last)
        .into_iter()
        .filter(|l| l.contains("open") && (l.contains("O_WRONLY") || l.contains("O_RDWR")))
        .collect();
    assert!(
        writes_final.is_empty(),
        "final name opened for writing: {writes_final:?}"
    );
    let temp_calls = mentions(&temp);
    let created = temp_calls
        .iter()
        .position(|l| l.contains("open") && l.contains("O_WRONLY") && l.contains("O_CREAT"));
    let moved = temp_calls.iter().position(|l| {
        (l.contains("link(") || l.contains("linkat(") || l.contains("rename"))
            && l.contains(&last)
            && l.ends_with("= 0")
    });
    assert!(
        matches!((created, moved), (Some(c), Some(m)) if c < m),
        "temp created, then moved to the final name; calls on the temp file: {temp_calls:#?}"
    );
}

#[tokio::test]
async fn uploading_the_same_file_twice_leaves_one_file_and_reports_already_present() {
    let server = server();
    let sftp = client(&server, LoginAuth::Password);
    let content = b"COURSE_CODE\tSECTION\nPHY101\t1\n".to_vec();

    assert_eq!(
        sftp.upload_atomic(NAME, content.clone()).await.unwrap(),
        UploadOutcome::Uploaded
    );
    let first_mtime = std::fs::metadata(server.directory(USER).join(NAME))
        .unwrap()
        .modified()
        .unwrap();
    assert_eq!(
        sftp.upload_atomic(NAME, content.clone()).await.unwrap(),
        UploadOutcome::AlreadyPresent
    );
    assert_eq!(server.files(USER).unwrap(), [NAME]);
    assert_eq!(server.read_file(USER, NAME).unwrap(), content);
    let second_mtime = std::fs::metadata(server.directory(USER).join(NAME))
        .unwrap()
        .modified()
        .unwrap();
    assert_eq!(first_mtime, second_mtime, "the file was not rewritten");
}

#[tokio::test]
async fn different_content_under_an_existing_name_is_a_conflict_and_the_original_stays() {
    let server = server();
    let original = b"original loader file\n".to_vec();
    server.put_file(USER, NAME, &original).unwrap();
    let sftp = client(&server, LoginAuth::Key);

    for other in [b"another loader file!\n".to_vec(), b"short\n".to_vec()] {
        let err = sftp.upload_atomic(NAME, other).await.unwrap_err();
        assert_eq!(err.error_name(), "SftpConflict", "{err}");
        assert!(err.to_string().contains(NAME), "{err}");
    }
    assert_eq!(server.read_file(USER, NAME).unwrap(), original);
    assert_eq!(
        server.files(USER).unwrap(),
        [NAME],
        "no temp file left behind"
    );
}

#[tokio::test]
async fn a_stale_temp_file_from_a_crashed_run_is_replaced_and_removed() {
    let server = server();
    server
        .put_file(USER, &temporary_name(NAME), b"half a fi")
        .unwrap();
    let content = b"the whole file\n".to_vec();
    let outcome = client(&server, LoginAuth::Key)
        .upload_atomic(NAME, content.clone())
        .await
        .unwrap();
    assert_eq!(outcome, UploadOutcome::Uploaded);
    assert_eq!(server.files(USER).unwrap(), [NAME]);
    assert_eq!(server.read_file(USER, NAME).unwrap(), content);
}

/// Puts a file into the account's directory, last modified `age` ago.
fn put_aged(server: &SshServer, name: &str, age: Duration) {
    let path = server.put_file(USER, name, b"half a fi").unwrap();
    std::fs::File::options()
        .write(true)
        .open(path)
        .unwrap()
        .set_modified(SystemTime::now() - age)
        .unwrap();
}

#[tokio::test]
async fn the_next_upload_removes_a_stale_temporary_file_and_only_that() {
    let server = server();
    let hour = Duration::from_secs(3600);
    // A push of an earlier day that died before its rename.
    let stale = temporary_name("20261127092514.txt");
    put_aged(&server, &stale, hour);
    // One another push may still be writing, and files that are not our temporaries.
    let fresh = temporary_name("20261128080000.txt");
    put_aged(&server, &fresh, Duration::from_secs(60));
    put_aged(&server, ".notes.part", hour);
    put_aged(&server, "20261127092514.txt", hour);

    let outcome = client(&server, LoginAuth::Key)
        .upload_atomic(NAME, b"the whole file\n".to_vec())
        .await
        .unwrap();
    assert_eq!(outcome, UploadOutcome::Uploaded);
    let files = server.files(USER).unwrap();
    assert!(!files.contains(&stale), "{files:?}");
    assert_eq!(
        files,
        [fresh.as_str(), ".notes.part", "20261127092514.txt", NAME]
    );
}

#[tokio::test]
async fn upload_into_a_directory_the_user_cannot_write_fails_and_leaves_nothing() {
    let server = server();
    let dir = server.directory(USER);
    std::os::unix::fs::chown(dir, Some(0), Some(0)).unwrap();
    let err = client(&server, LoginAuth::Key)
        .upload_atomic(NAME, b"x".to_vec())
        .await
        .unwrap_err();
    assert_eq!(err.error_name(), "SftpPermissionDenied", "{err}");
    assert!(server.files(USER).unwrap().is_empty());
}

#[tokio::test]
async fn names_with_a_path_are_refused_before_connecting() {
    let server = server();
    let err = client(&server, LoginAuth::Key)
        .upload_atomic("../escape.txt", b"x".to_vec())
        .await
        .unwrap_err();
    assert_eq!(err.error_name(), "InvalidInput", "{err}");
    assert!(!server.log().contains("Accepted"), "no login happened");
}
