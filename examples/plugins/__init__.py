"""Example custom_plugin classes; see kv_records.py."""
