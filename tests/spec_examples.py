"""The examples of the vendor's webhook document, verbatim (../shared/vendor-webhook-spec.txt)."""

from __future__ import annotations

from typing import Any

SERIAL = "59001dd73709417321c58b11693183a2"

SPEC_LEAD: dict[str, Any] = {
    "SerialNumber": SERIAL,
    "Type": "Lead",
    "FirstName": "David",
    "LastName": "Garcia",
    "Email": "test@qq.com",
    "PhoneNumber": "",
    "CreateTime": "2023-11-23T18:36:21.512302Z",
    "Content": "test",
    "SessionID": 31305,
    "URI": "www.helloclient.com",
}

# The document's lead example with the other documented Type.
SPEC_APPOINTMENT: dict[str, Any] = {
    **SPEC_LEAD,
    "Type": "Appointment",
    "Content": "Tomorrow 10:00",
    "SessionID": 31306,
}

SPEC_CHATLOG: dict[str, Any] = {
    "Collection": [
        {
            "SerialNumber": SERIAL,
            "Name": "test...",
            "StartTime": "2023-11-21T00:00:00Z",
            "EndTime": "2023-11-22T00:00:00Z",
            "Conversations": [
                {
                    "SessionID": 31302,
                    "CreateTime": "2023-11-21T16:22:42.264484Z",
                    "URI": "www.helloclient.com",
                    "Messages": [
                        {"Type": "AI", "Content": "Hi What can I help you with?"},
                        {"Type": "User", "Content": "make an appointment"},
                        {"Type": "AI", "Content": "Please select the date and time..."},
                    ],
                }
            ],
        }
    ]
}
