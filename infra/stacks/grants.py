"""What each Lambda function's code calls, and so all its role allows (each function has a role of its own).

The IAM check of the test suite (tests/iam) records every AWS call the code makes, per function, and
judges it against these roles in the synthesized template: a call not granted here fails the suite,
and so does a grant that no test's call uses. A function not listed gets no data access at all.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from chalicelib.domain.data import data_key, staging_key

# DynamoDB actions by what the repositories call (a TransactWriteItems needs the action of each item in it).
GET, BATCH_GET, QUERY = "dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query"
PUT, UPDATE, DELETE, BATCH_WRITE = ("dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem",
                                    "dynamodb:BatchWriteItem")
# S3 object actions: HeadObject/GetObject; PutObject covers a multipart upload, which aborts on a failure.
S3_GET, S3_PUT, S3_ABORT, S3_DELETE = "s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload", "s3:DeleteObject"
S3_LIST_PARTS = "s3:ListMultipartUploadParts"  # a presigned multipart upload's completion checks its parts
DATA, STAGING = data_key(""), staging_key("")  # images/, staging/ (uploads land in staging/imports/)


@dataclass(frozen=True)
class Grant:
    """One function's needs: item actions per table, GSIs queried, object actions per key prefix, machines started."""

    tables: dict[str, tuple[str, ...]] = field(default_factory=dict)  # persistence role -> actions on its table
    indexes: tuple[str, ...] = ()  # persistence roles whose GSIs are queried
    objects: dict[str, tuple[str, ...]] = field(default_factory=dict)  # key prefix ("images/") -> object actions
    bucket: tuple[str, ...] = ()  # actions on the bucket itself (listing)
    machines: tuple[str, ...] = ()  # state machines (stepfunctions/<name>.asl.json) it starts
    stores: tuple[str, ...] = ()  # object actions on the data of the further stores (-c stores; images/ there)
    keystone_secret: bool = False  # reads the Keystone service user's secret (cloud mode, keystone provider)


# The import steps judge and move one image: its record, the owner's usage, the members (visibility), the task.
_STEP_RECORDS = {"images": (GET, UPDATE), "members": (QUERY,), "usage": (UPDATE,), "tasks": (GET, PUT)}

GRANTS: dict[str, Grant] = {
    "api_handler": Grant(
        tables={"images": (GET, BATCH_GET, PUT, UPDATE, DELETE, BATCH_WRITE),  # queried by its indexes only
                "members": (GET, QUERY, PUT, UPDATE, DELETE, BATCH_WRITE),
                "usage": (BATCH_GET, UPDATE),
                "metadefs": (QUERY, PUT, DELETE, BATCH_WRITE),
                "tasks": (GET, PUT)},
        indexes=("images", "members", "metadefs", "tasks"),
        # Data in and out; staging/ for the stage and upload-then-import methods (presigned PUTs, single or
        # multipart, included).
        objects={DATA: (S3_GET, S3_PUT, S3_ABORT, S3_DELETE), STAGING: (S3_PUT, S3_ABORT, S3_DELETE, S3_LIST_PARTS)},
        machines=("import_image",),
        stores=(S3_GET, S3_PUT, S3_ABORT, S3_DELETE),  # uploads to a named store, downloads, delete-from-store
    ),
    "authorizer": Grant(keystone_secret=True),
    "import_trigger": Grant(  # an upload landed: claim the image, start its import, drop what is not claimed
        tables={"images": (GET, UPDATE), "members": (QUERY,), "tasks": (GET, PUT)},
        objects={STAGING: (S3_DELETE,)}, machines=("import_image",),
    ),
    "import_begin": Grant(tables={**_STEP_RECORDS, "images": (GET, PUT, UPDATE)}),
    "import_fetch": Grant(tables={"images": (GET,)},  # the image's target stores
                          objects={STAGING: (S3_GET, S3_PUT, S3_ABORT)}),  # web -> staging/
    "import_hash": Grant(  # an added location's data read once (its own object, in any store), then its hashes written
        tables={"images": (GET, UPDATE), "members": (QUERY,), "usage": (UPDATE,)},  # usage: active with the hashes
        objects={DATA: (S3_GET,)}, stores=(S3_GET,),
    ),
    "import_verify": Grant(tables={"images": (GET,), "tasks": (GET,)}, objects={STAGING: (S3_GET,)}),
    "import_activate": Grant(  # staging/ -> images/ (a server-side copy), then the image goes active
        tables={"images": (GET, UPDATE), "members": (QUERY,), "usage": (UPDATE,)},
        objects={STAGING: (S3_GET, S3_DELETE), DATA: (S3_GET, S3_PUT, S3_ABORT)},  # DATA read: copy-image's source
        stores=(S3_GET, S3_PUT, S3_ABORT),  # an import or copy-image into a further store (a server-side copy)
    ),
    "import_succeed": Grant(tables={"tasks": (GET, PUT)}),
    "import_fail": Grant(tables=_STEP_RECORDS, objects={STAGING: (S3_DELETE,), DATA: (S3_DELETE,)},
                         stores=(S3_DELETE,)),  # the copies a failed import made
    "scrub_images": Grant(  # pending_delete images past the delay: their data (and any staged), then the records
        tables={"images": (GET, PUT), "members": (QUERY,)}, indexes=("images",),
        objects={DATA: (S3_DELETE,), STAGING: (S3_DELETE,)}, stores=(S3_DELETE,),
    ),
    "load_metadefs": Grant(tables={"metadefs": (QUERY, PUT)}),
}
