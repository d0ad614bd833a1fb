//! Where attachments' bytes go: an object store (`object_store`), on the local disk by default
//! (`DATA/blobs`, or `--blobs DIR`), or any S3-compatible store (`--blobs s3://BUCKET/PREFIX`,
//! credentials and endpoint from the usual `AWS_*` variables: `AWS_ACCESS_KEY_ID`,
//! `AWS_SECRET_ACCESS_KEY`, `AWS_DEFAULT_REGION`, `AWS_ENDPOINT`, `AWS_ALLOW_HTTP`). The
//! database says which objects make up which attachment; the objects themselves are age
//! ciphertext, as the device encrypted them.

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::body::Bytes;
use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjectPath;
use object_store::prefix::PrefixStore;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use uuid::Uuid;

use crate::error::ApiError;

/// The blob store.
#[derive(Debug, Clone)]
pub struct Blobs {
    store: Arc<dyn ObjectStore>,
}

impl Blobs {
    /// The store at `blobs` (a folder), or `DATA/blobs`.
    pub fn open(data: Option<&Path>, blobs: Option<&str>) -> anyhow::Result<Blobs> {
        if let Some(url) = blobs.and_then(|b| b.strip_prefix("s3://")) {
            let (bucket, prefix) = url.split_once('/').unwrap_or((url, ""));
            if bucket.is_empty() {
                anyhow::bail!("--blobs s3://BUCKET/PREFIX needs a bucket");
            }
            let s3 = AmazonS3Builder::from_env()
                .with_bucket_name(bucket)
                .build()
                .map_err(|e| anyhow::anyhow!("the S3 store {bucket}: {e}"))?;
            let store: Arc<dyn ObjectStore> = if prefix.trim_matches('/').is_empty() {
                Arc::new(s3)
            } else {
                Arc::new(PrefixStore::new(s3, prefix.trim_matches('/')))
            };
            return Ok(Blobs { store });
        }
        let dir = match (blobs, data) {
            (Some(b), _) => PathBuf::from(b.strip_prefix("file://").unwrap_or(b)),
            (None, Some(d)) => d.join("blobs"),
            (None, None) => anyhow::bail!(
                "--blobs DIR is needed with --database: the folder every server process shares for attachments"
            ),
        };
        std::fs::create_dir_all(&dir)
            .map_err(|e| anyhow::anyhow!("could not make {}: {e}", dir.display()))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))?;
        }
        Ok(Blobs {
            store: Arc::new(LocalFileSystem::new_with_prefix(&dir)?),
        })
    }

    /// Stores one part of an upload under a fresh name; returns the name.
    pub async fn put_part(
        &self,
        upload: Uuid,
        offset: u64,
        bytes: Bytes,
    ) -> Result<String, ApiError> {
        let key = format!("uploads/{upload}/{offset:020}-{}", Uuid::now_v7().simple());
        self.store
            .put(&ObjectPath::from(key.as_str()), PutPayload::from(bytes))
            .await
            .map_err(ApiError::internal)?;
        Ok(key)
    }

    /// Reads `range` of an object.
    pub async fn read(&self, key: &str, range: Range<u64>) -> Result<Bytes, ApiError> {
        self.store
            .get_range(&ObjectPath::from(key), range)
            .await
            .map_err(ApiError::internal)
    }

    /// Removes an object (a part nobody uses); failures are only logged.
    pub async fn delete(&self, key: &str) {
        if let Err(e) = self.store.delete(&ObjectPath::from(key)).await {
            tracing::warn!(error = %e, "could not remove an unused part");
        }
    }
}
