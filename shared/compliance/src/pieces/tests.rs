use super::*;

fn scratch(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("relay-dirparts-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

#[tokio::test]
async fn parts_on_disk_read_write_and_list_as_the_memory_store_does() {
    let dir = scratch("same");
    let disk = DirParts::new(&dir);
    let memory = MemoryParts::default();
    let keys = [
        "runs/R/points/111111111111/us-east-1/222222222222-us-east-1-00000.json",
        "runs/R/points/111111111111/us-east-1/111111111111-us-east-1-00001.json",
        "runs/R/points/111111111111/us-east-10/x.json",
        "runs/R/sites/111111111111/us-east-1.json",
    ];
    for (i, key) in keys.iter().enumerate() {
        disk.put_part(key, &format!("body {i}")).await.unwrap();
        memory.put_part(key, &format!("body {i}")).await.unwrap();
    }
    // A retried write replaces.
    disk.put_part(keys[0], "again").await.unwrap();
    memory.put_part(keys[0], "again").await.unwrap();
    for prefix in [
        "runs/R/points/111111111111/us-east-1/",
        "runs/R/points/111111111111/us-east-1",
        "runs/R/",
        "runs/",
        "runs/Q/",
    ] {
        assert_eq!(
            disk.list_parts(prefix).await.unwrap(),
            memory.list_parts(prefix).await.unwrap(),
            "{prefix}"
        );
    }
    for key in keys.iter().chain(&["runs/R/missing.json"]) {
        assert_eq!(
            disk.get_part(key).await.unwrap(),
            memory.get_part(key).await.unwrap()
        );
    }
    // A key that would leave the directory is refused, not followed.
    for bad in [
        "../outside.json",
        "runs//x.json",
        "/etc/passwd",
        "runs/./x.json",
        "runs\\..\\x.json",
        "C:/x.json",
        "runs/x.tmp",
    ] {
        assert!(disk.put_part(bad, "x").await.is_err(), "{bad}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
