from antechamber.errors import Conflict, Forbidden, NotFound, Unauthorized


class OperatorNotFound(NotFound):
    error_type = "operator_not_found"
    default_message = "There is no operator with that email address or id."


class OperatorExists(Conflict):
    error_type = "operator_already_exists"
    default_message = "That person is already an operator."


class NotAnOperator(Forbidden):
    """A console session was asked for a member outside the operators organization."""

    error_type = "not_an_operator"
    default_message = "Only members of the operators organization may use the console."


class ConsoleSessionInvalid(Unauthorized):
    """No session, an unknown or revoked token, or the operator is gone."""

    error_type = "console_session_invalid"
    default_message = "Sign in to use the console."


class ConsoleSessionExpired(ConsoleSessionInvalid):
    """The idle or absolute timeout passed."""

    error_type = "console_session_expired"
    default_message = "Your console session has ended; sign in again."
