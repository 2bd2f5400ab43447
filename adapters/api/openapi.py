"""The API's OpenAPI 3.1 document, served at ``/api/v1/openapi.json`` (docs/api.md)."""

from __future__ import annotations

from typing import Any

from hub.config import ApiConfig

__all__ = ["CONVERSATION_ID", "MESSAGE_ID", "openapi_document"]

CONVERSATION_ID = r"^[A-Za-z0-9._-]{1,128}$"
MESSAGE_ID = r"^[A-Za-z0-9._:-]{1,128}$"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _error(description: str) -> dict[str, Any]:
    return {"description": description,
            "content": {"application/json": {"schema": _ref("Error")}}}


def _schemas(config: ApiConfig) -> dict[str, Any]:
    button = {"type": "object", "required": ["label", "value"],
              "properties": {"label": {"type": "string"}, "value": {"type": "string"}}}
    nullable = {"type": ["string", "null"]}
    return {
        "Error": {
            "type": "object", "required": ["error"],
            "properties": {"error": {
                "type": "object", "required": ["code", "message"],
                "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
            }},
        },
        "Button": button,
        "Event": {
            "type": "object", "required": ["event", "data"],
            "description": "One Server-Sent Event: delta {text}, message (a Reply), then "
                           "done or pending (an Answer); data is JSON",
            "properties": {"event": {"enum": ["delta", "message", "done", "pending"]},
                           "data": {"type": "string", "contentMediaType": "application/json"}},
        },
        "User": {
            "type": "object", "additionalProperties": False,
            "properties": {
                "id": {"type": "string", "minLength": 1, "maxLength": 128},
                "name": {"type": "string", "maxLength": 80},
            },
        },
        "MessageRequest": {
            "type": "object", "additionalProperties": False, "required": ["text"],
            "properties": {
                "text": {"type": "string", "minLength": 1, "maxLength": config.max_chars,
                         "pattern": r"\S",
                         "description": "The customer's message; at most max_chars characters."},
                "id": {"type": "string", "pattern": MESSAGE_ID,
                       "description": "The client's id for the message: a retry with the "
                                      "same id returns the same answer."},
                "user": _ref("User"),
                "webhook_url": {"type": "string", "format": "uri", "maxLength": 2048,
                                "pattern": r"^https?://[A-Za-z0-9]",
                                "description": "Where agents' replies to this conversation "
                                               "are POSTed, signed (docs/api.md)."},
            },
        },
        "Reply": {
            "type": "object", "required": ["id", "from", "text", "buttons"],
            "properties": {
                "id": {"type": "string"},
                "from": {"enum": ["bot", "agent", "system"]},
                "name": nullable,
                "text": {"type": "string"},
                "buttons": {"type": "array", "items": _ref("Button")},
                "stage": nullable,
                "reason": nullable,
            },
        },
        "Answer": {
            "type": "object",
            "required": ["conversation_id", "message_id", "status", "replies", "text", "buttons"],
            "properties": {
                "conversation_id": {"type": "string"},
                "message_id": {"type": "string"},
                "status": {"enum": ["done", "pending"]},
                "stage": nullable,
                "reason": nullable,
                "text": {"type": "string"},
                "buttons": {"type": "array", "items": _ref("Button")},
                "replies": {"type": "array", "items": _ref("Reply")},
            },
        },
        "TranscriptEntry": {
            "type": "object", "required": ["id", "from", "text", "timestamp", "buttons"],
            "properties": {
                "id": {"type": "string"},
                "from": {"enum": ["customer", "bot", "agent", "system"]},
                "name": nullable,
                "text": {"type": "string"},
                "timestamp": {"type": "number"},
                "reply_to": nullable,
                "buttons": {"type": "array", "items": _ref("Button")},
                "stage": nullable,
            },
        },
        "Conversation": {
            "type": "object", "required": ["conversation_id", "status", "transcript"],
            "properties": {
                "conversation_id": {"type": "string"},
                "status": {"enum": ["bot", "handoff", "resolved"]},
                "linked_from": nullable,
                "transcript": {"type": "array", "items": _ref("TranscriptEntry")},
            },
        },
    }


def openapi_document(config: ApiConfig) -> dict[str, Any]:
    conversation_id = {"name": "id", "in": "path", "required": True,
                       "schema": {"type": "string", "pattern": CONVERSATION_ID}}
    unauthorized = _error("Missing, wrong or expired credentials")
    return {
        "openapi": "3.1.0",
        "info": {"title": "Switchboard server API", "version": "1.0.0",
                 "description": "A shop's own app or backend as a support channel."},
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}],
        "paths": {
            "/api/v1/conversations/{id}/messages": {"post": {
                "operationId": "postMessage",
                "summary": "Send a customer message; get the decision's reply",
                "parameters": [
                    conversation_id,
                    {"name": "stream", "in": "query", "required": False,
                     "schema": {"type": "boolean"},
                     "description": "Server-Sent Events instead of one JSON answer"},
                ],
                "requestBody": {"required": True, "content": {
                    "application/json": {"schema": _ref("MessageRequest")}}},
                "responses": {
                    "200": {"description": "The answer (or its events, with stream=true)",
                            "content": {"application/json": {"schema": _ref("Answer")},
                                        "text/event-stream": {"schema": _ref("Event")}}},
                    "202": {"description": "Accepted, not answered within reply_timeout_s; "
                                           "the answer comes in the transcript",
                            "content": {"application/json": {"schema": _ref("Answer")}}},
                    "400": _error("Malformed JSON, unknown keys, an empty text, a bad id"),
                    "401": unauthorized,
                    "413": _error("The text (or the body) is too long"),
                    "503": _error("The hub cannot take the message now; send it again"),
                },
            }},
            "/api/v1/conversations/{id}": {"get": {
                "operationId": "getConversation",
                "summary": "The conversation's transcript",
                "parameters": [conversation_id],
                "responses": {
                    "200": {"description": "The transcript, oldest first",
                            "content": {"application/json": {"schema": _ref("Conversation")}}},
                    "400": _error("A malformed conversation id"),
                    "401": unauthorized,
                    "404": _error("No such conversation"),
                    "503": _error("The store is unavailable"),
                },
            }},
        },
        "components": {
            "securitySchemes": {"bearer": {
                "type": "http", "scheme": "bearer", "bearerFormat": "JWT or API key"}},
            "schemas": _schemas(config),
        },
    }
