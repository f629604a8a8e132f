"""Reading SeedLink: the client that resumes each station, and miniSEED decoding at the edge."""
