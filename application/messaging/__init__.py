"""Messaging: what every path that receives or sends WhatsApp messages shares.

- ``outbound``: the sending number, the contact for a WhatsApp id, and ``queue_outbound`` (a message stored
  ``queued`` is the sender's work item: the outbox is the queue);
- ``statuses``: ``StatusRecorder``, the one place a message's status changes (status webhooks, the sender's
  outcomes, the sweep of sends whose outcome never became known);
- ``routing``: ``InboundRouter``, what a new inbound message does, in order: opt-out, automation reply, flow;
- ``webhooks``: ``WebhookApplier``, a batch of one organization's webhook events applied with set-based
  statements.
"""
