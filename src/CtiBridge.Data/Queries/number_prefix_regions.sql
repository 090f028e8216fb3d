SELECT prefix, region FROM number_prefixes
