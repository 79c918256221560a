"""ImportLauncher on Step Functions: one named execution per import, so a duplicate start is harmless."""
from __future__ import annotations

import json
from typing import Any, Callable, Mapping

from chalicelib.adapters import aws_errors
from chalicelib.domain.errors import ServiceUnavailable, TransientFault


class StepFunctionsLauncher:
    """Starts executions of the import state machine; the client is built on first use."""

    def __init__(self, client_factory: Callable[[], Any], state_machine_arn: str | None) -> None:
        self._client_factory = client_factory
        self._client: Any = None
        self.state_machine_arn = state_machine_arn

    def start(self, name: str, payload: Mapping[str, object]) -> None:
        """StartExecution named ``name``; ExecutionAlreadyExists (the same import) is ignored.

        Raises TransientFault when the fault may pass, else ServiceUnavailable: the caller compensates either way.
        """
        if not self.state_machine_arn:
            raise ServiceUnavailable("The import pipeline is not configured (no state machine).")
        if self._client is None:
            self._client = self._client_factory()
        try:
            self._client.start_execution(stateMachineArn=self.state_machine_arn, name=name, input=json.dumps(payload))
        except self._client.exceptions.ExecutionAlreadyExists:
            return
        except aws_errors.AWS_FAULTS as exc:
            fault = aws_errors.translate(exc, what="The import")
            if isinstance(fault, TransientFault):
                raise fault from exc
            # Denied, or no such state machine: the pipeline is unavailable (503, as before), not the request wrong.
            raise ServiceUnavailable("The import pipeline could not be started.") from exc
