"""QuickBooks webhooks: a sensor per company reads the receiver's spool; a step applies the changes it names."""
