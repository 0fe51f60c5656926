"""The appliance: config, storage, recognisers, access policy, gate loop and CLI."""
