"""Remote actions: actions implemented in other services, over a signed message protocol.

actiondesk side: ``desk.remote_provider(...)`` and ``desk.endpoint_action(...)``. Service
side (any language; in Python with ``RemoteActions``): one HTTP endpoint receiving signed
``{"name": ..., "params": {...}}`` messages. The protocol is in docs/remote-actions.md.
"""

from actiondesk.remote.config import RemoteProvider
from actiondesk.remote.nonces import NonceStore, SqlNonceStore
from actiondesk.remote.protocol import EXECUTE_ACTION, GET_ACTION_LIST
from actiondesk.remote.server import Message, RemoteActions, Reply
from actiondesk.remote.signing import NonceCache, SignatureError, sign, sign_answer, verify

__all__ = [
    "EXECUTE_ACTION",
    "GET_ACTION_LIST",
    "Message",
    "NonceCache",
    "NonceStore",
    "RemoteActions",
    "RemoteProvider",
    "Reply",
    "SignatureError",
    "SqlNonceStore",
    "sign",
    "sign_answer",
    "verify",
]
