"""The pure decision core: plan + status + observations + clock -> new status + actions. No I/O here."""
