#!/bin/sh
# Puts the example configuration in place on first start, then runs the server.
set -e
if [ ! -f /config/server.json ]; then
  cp /app/server.example.json /config/server.json
fi
exec "$@"
