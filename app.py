"""Chalice app: route and middleware registrations only; views live in chalicelib/api/routes_*."""
from chalice import Rate

from chalicelib.api import (
    authorizer, routes_data, routes_discovery, routes_images, routes_import, routes_info, routes_members,
    routes_metadefs, routes_tasks, routes_v1, routes_v1_members,
)
from chalicelib.api.entry import ServiceApp
from chalicelib.api.http import reject_other_methods, request_id_middleware, serve_unversioned
from chalicelib.api.observability import observe
from chalicelib.metadefs_loader import load_standard
from chalicelib.pipeline import scrubber, steps
from chalicelib.wiring import container

app = ServiceApp(app_name="glance-serverless")
app.register_blueprint(routes_images.bp)
app.register_blueprint(routes_data.bp)
app.register_blueprint(routes_import.bp)
app.register_blueprint(routes_members.bp)
app.register_blueprint(routes_info.bp)
app.register_blueprint(routes_metadefs.bp)
app.register_blueprint(routes_discovery.bp)
app.register_blueprint(routes_tasks.bp)
app.register_blueprint(routes_v1.bp)
app.register_blueprint(routes_v1_members.bp)
app.register_middleware(request_id_middleware, "http")
app.register_middleware(observe, "all")  # inside request_id_middleware, so it sees the request id
serve_unversioned(app)
reject_other_methods(app)


@app.schedule(Rate(15, unit=Rate.MINUTES), name="scrub_images")
def scrub_images(event: object) -> dict:
    return scrubber.scrub_images(container())


@app.lambda_function(name="load_metadefs")
def load_metadefs(event: object, context: object) -> dict:
    # Invoked after a deploy (glance-manage db_load_metadefs' role; the stack's LoadMetadefsName output):
    # creates the shipped namespaces that are missing.
    return {"created": load_standard(container())}


# Cloud mode: the CDK stack makes this API Gateway's TOKEN authorizer on X-Auth-Token.
@app.lambda_function(name="authorizer")
def api_authorizer(event: dict, context: object) -> dict:
    return authorizer.authorize(event)


# The import pipeline (stepfunctions/import_image.asl.json): one function per Task state.
@app.lambda_function(name="import_begin")
def import_begin(event: dict, context: object) -> dict:
    return steps.begin(event, container())


@app.lambda_function(name="import_fetch")
def import_fetch(event: dict, context: object) -> dict:
    return steps.fetch(event, container())


@app.lambda_function(name="import_hash")
def import_hash(event: dict, context: object) -> dict:
    return steps.hash_location(event, container())


@app.lambda_function(name="import_verify")
def import_verify(event: dict, context: object) -> dict:
    return steps.verify(event, container())


@app.lambda_function(name="import_activate")
def import_activate(event: dict, context: object) -> dict:
    return steps.activate(event, container())


@app.lambda_function(name="import_succeed")
def import_succeed(event: dict, context: object) -> dict:
    return steps.succeed(event, container())


@app.lambda_function(name="import_fail")
def import_fail(event: dict, context: object) -> dict:
    return steps.fail(event, container())


# S3 -> EventBridge -> this function (the CDK stack's rule): data PUT to a presigned upload URL imports itself.
@app.lambda_function(name="import_trigger")
def import_trigger(event: dict, context: object) -> dict:
    return steps.object_created(event, container())
