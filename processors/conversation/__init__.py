"""Conversations: the state a thread keeps between messages, what a follow-up says, and the handoff."""
