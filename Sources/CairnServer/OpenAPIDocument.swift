// The OpenAPI 3 description of /api/v1, compiled in and served at /api/v1/openapi.json.
// Docs/openapi.json is the same text (CairnServerTests compares them byte for byte).

enum OpenAPIDocument {
    static let json = #"""
{
 "openapi": "3.1.0",
 "info": {
  "title": "Cairn server API",
  "version": "1",
  "description": "The HTTP API of `cairn serve` (Docs/Server.md). Errors are JSON {code, message, hint}. Send `Authorization: Bearer TOKEN` when the server has a token file."
 },
 "servers": [
  {
   "url": "http://127.0.0.1:8470"
  }
 ],
 "security": [
  {
   "bearer": []
  },
  {}
 ],
 "paths": {
  "/api/v1/openapi.json": {
   "get": {
    "summary": "This document",
    "operationId": "openapi",
    "responses": {
     "200": {
      "description": "OpenAPI 3 document",
      "content": {
       "application/json": {
        "schema": {
         "type": "object"
        }
       }
      }
     }
    },
    "tags": [
     "meta"
    ]
   }
  },
  "/api/v1/status": {
   "get": {
    "summary": "Repository, silos, latest snapshot per silo, free space, running jobs",
    "operationId": "status",
    "responses": {
     "200": {
      "description": "Status",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Status"
        }
       }
      }
     },
     "401": {
      "$ref": "#/components/responses/E401"
     },
     "403": {
      "$ref": "#/components/responses/E403"
     },
     "405": {
      "$ref": "#/components/responses/E405"
     },
     "500": {
      "$ref": "#/components/responses/E500"
     },
     "503": {
      "$ref": "#/components/responses/E503"
     }
    },
    "tags": [
     "read"
    ]
   }
  },
  "/api/v1/snapshots": {
   "get": {
    "summary": "List snapshots, newest first",
    "operationId": "listSnapshots",
    "responses": {
     "200": {
      "description": "A page of snapshots",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/SnapshotPage"
        }
       }
      }
     },
     "400": {
      "$ref": "#/components/responses/E400"
     },
     "404": {
      "$ref": "#/components/responses/E404"
     },
     "401": {
      "$ref": "#/components/responses/E401"
     },
     "403": {
      "$ref": "#/components/responses/E403"
     },
     "405": {
      "$ref": "#/components/responses/E405"
     },
     "500": {
      "$ref": "#/components/responses/E500"
     },
     "503": {
      "$ref": "#/components/responses/E503"
     }
    },
    "parameters": [
     {
      "name": "silo",
      "in": "query",
      "description": "Only snapshots holding this silo.",
      "required": false,
      "schema": {
       "type": "string",
       "pattern": "^[A-Za-z0-9_][A-Za-z0-9._-]{0,63}$"
      }
     },
     {
      "name": "tag",
      "in": "query",
      "description": "Only snapshots with this tag.",
      "required": false,
      "schema": {
       "type": "string"
      }
     },
     {
      "name": "since",
      "in": "query",
      "description": "Only snapshots at or after this ISO 8601 time.",
      "required": false,
      "schema": {
       "type": "string",
       "format": "date-time"
      }
     },
     {
      "name": "until",
      "in": "query",
      "description": "Only snapshots at or before this ISO 8601 time.",
      "required": false,
      "schema": {
       "type": "string",
       "format": "date-time"
      }
     },
     {
      "name": "offset",
      "in": "query",
      "description": "Skip this many.",
      "required": false,
      "schema": {
       "type": "integer",
       "minimum": 0,
       "maximum": 2147483647,
       "default": 0
      }
     },
     {
      "name": "limit",
      "in": "query",
      "description": "At most this many.",
      "required": false,
      "schema": {
       "type": "integer",
       "minimum": 1,
       "maximum": 1000,
       "default": 100
      }
     }
    ],
    "tags": [
     "read"
    ]
   }
  },
  "/api/v1/snapshots/{id}": {
   "get": {
    "summary": "One snapshot's record",
    "operationId": "showSnapshot",
    "responses": {
     "200": {
      "description": "Snapshot",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Snapshot"
        }
       }
      }
     },
     "400": {
      "$ref": "#/components/responses/E400"
     },
     "404": {
      "$ref": "#/components/responses/E404"
     },
     "401": {
      "$ref": "#/components/responses/E401"
     },
     "403": {
      "$ref": "#/components/responses/E403"
     },
     "405": {
      "$ref": "#/components/responses/E405"
     },
     "500": {
      "$ref": "#/components/responses/E500"
     },
     "503": {
      "$ref": "#/components/responses/E503"
     }
    },
    "parameters": [
     {
      "name": "id",
      "in": "path",
      "required": true,
      "description": "Snapshot: full id, unique prefix of 6+ hex digits, or `latest`.",
      "schema": {
       "type": "string",
       "pattern": "^([0-9a-fA-F]{6,64}|latest)$"
      }
     }
    ],
    "tags": [
     "read"
    ]
   }
  },
  "/api/v1/snapshots/{id}/ls": {
   "get": {
    "summary": "Files in a snapshot",
    "operationId": "lsSnapshot",
    "responses": {
     "200": {
      "description": "Entries",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/LsPage"
        }
       }
      }
     },
     "400": {
      "$ref": "#/components/responses/E400"
     },
     "404": {
      "$ref": "#/components/responses/E404"
     },
     "401": {
      "$ref": "#/components/responses/E401"
     },
     "403": {
      "$ref": "#/components/responses/E403"
     },
     "405": {
      "$ref": "#/components/responses/E405"
     },
     "500": {
      "$ref": "#/components/responses/E500"
     },
     "503": {
      "$ref": "#/components/responses/E503"
     }
    },
    "parameters": [
     {
      "name": "id",
      "in": "path",
      "required": true,
      "description": "Snapshot: full id, unique prefix of 6+ hex digits, or `latest`.",
      "schema": {
       "type": "string",
       "pattern": "^([0-9a-fA-F]{6,64}|latest)$"
      }
     },
     {
      "name": "path",
      "in": "query",
      "description": "SILO/relative/path (default: the silo roots).",
      "required": false,
      "schema": {
       "type": "string"
      }
     },
     {
      "name": "recursive",
      "in": "query",
      "description": "Walk below path.",
      "required": false,
      "schema": {
       "type": "boolean"
      }
     },
     {
      "name": "limit",
      "in": "query",
      "description": "At most this many entries.",
      "required": false,
      "schema": {
       "type": "integer",
       "minimum": 1,
       "maximum": 10000,
       "default": 1000
      }
     }
    ],
    "tags": [
     "read"
    ]
   }
  },
  "/api/v1/snapshots/{id}/cat": {
   "get": {
    "summary": "One file's content, streamed",
    "operationId": "catFile",
    "responses": {
     "200": {
      "description": "The file's bytes (Content-Length exact)",
      "content": {
       "application/octet-stream": {
        "schema": {
         "type": "string",
         "format": "binary"
        }
       }
      }
     },
     "400": {
      "$ref": "#/components/responses/E400"
     },
     "404": {
      "$ref": "#/components/responses/E404"
     },
     "401": {
      "$ref": "#/components/responses/E401"
     },
     "403": {
      "$ref": "#/components/responses/E403"
     },
     "405": {
      "$ref": "#/components/responses/E405"
     },
     "500": {
      "$ref": "#/components/responses/E500"
     },
     "503": {
      "$ref": "#/components/responses/E503"
     }
    },
    "parameters": [
     {
      "name": "id",
      "in": "path",
      "required": true,
      "description": "Snapshot: full id, unique prefix of 6+ hex digits, or `latest`.",
      "schema": {
       "type": "string",
       "pattern": "^([0-9a-fA-F]{6,64}|latest)$"
      }
     },
     {
      "name": "path",
      "in": "query",
      "description": "SILO/relative/path of a file.",
      "required": true,
      "schema": {
       "type": "string",
       "minLength": 1
      }
     }
    ],
    "tags": [
     "read"
    ]
   }
  },
  "/api/v1/snapshots/{id}/export.zip": {
   "get": {
    "summary": "Export as ZIP, streamed as written",
    "operationId": "exportZip",
    "responses": {
     "200": {
      "description": "The archive. With compression=store: exact Content-Length, Accept-Ranges: bytes. Content-Disposition names it cairn-ID-YYYYMMDD-HHMMSSZ.zip.",
      "content": {
       "application/zip": {
        "schema": {
         "type": "string",
         "format": "binary"
        }
       }
      }
     },
     "206": {
      "description": "The requested byte range of the (deterministic) store archive",
      "content": {
       "application/zip": {
        "schema": {
         "type": "string",
         "format": "binary"
        }
       }
      }
     },
     "416": {
      "description": "Range outside the archive (Content-Range: bytes */SIZE)",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Error"
        }
       }
      }
     },
     "400": {
      "$ref": "#/components/responses/E400"
     },
     "404": {
      "$ref": "#/components/responses/E404"
     },
     "401": {
      "$ref": "#/components/responses/E401"
     },
     "403": {
      "$ref": "#/components/responses/E403"
     },
     "405": {
      "$ref": "#/components/responses/E405"
     },
     "500": {
      "$ref": "#/components/responses/E500"
     },
     "503": {
      "$ref": "#/components/responses/E503"
     }
    },
    "description": "With compression=store the response has the exact Content-Length and honours `Range: bytes=A-B | A- | -N` (206, or 416 with `Content-Range: bytes */SIZE`).",
    "parameters": [
     {
      "name": "id",
      "in": "path",
      "required": true,
      "description": "Snapshot: full id, unique prefix of 6+ hex digits, or `latest`.",
      "schema": {
       "type": "string",
       "pattern": "^([0-9a-fA-F]{6,64}|latest)$"
      }
     },
     {
      "name": "silo",
      "in": "query",
      "description": "Silo name (repeatable).",
      "required": false,
      "schema": {
       "type": "array",
       "items": {
        "type": "string",
        "pattern": "^[A-Za-z0-9_][A-Za-z0-9._-]{0,63}$"
       }
      },
      "style": "form",
      "explode": true
     },
     {
      "name": "compression",
      "in": "query",
      "description": "store (default: exact size, resumable), deflate, or auto.",
      "required": false,
      "schema": {
       "type": "string",
       "enum": [
        "store",
        "deflate",
        "auto"
       ],
       "default": "store"
      }
     },
     {
      "name": "level",
      "in": "query",
      "description": "zlib level for deflate, 1-9.",
      "required": false,
      "schema": {
       "type": "integer",
       "minimum": 1,
       "maximum": 9,
       "default": 1
      }
     }
    ],
    "tags": [
     "export"
    ]
   }
  },
  "/api/v1/snapshots/{id}/export-estimate": {
   "get": {
    "summary": "Archive size before download (exact for store)",
    "operationId": "exportEstimate",
    "responses": {
     "200": {
      "description": "Estimate",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/ExportEstimate"
        }
       }
      }
     },
     "400": {
      "$ref": "#/components/responses/E400"
     },
     "404": {
      "$ref": "#/components/responses/E404"
     },
     "401": {
      "$ref": "#/components/responses/E401"
     },
     "403": {
      "$ref": "#/components/responses/E403"
     },
     "405": {
      "$ref": "#/components/responses/E405"
     },
     "500": {
      "$ref": "#/components/responses/E500"
     },
     "503": {
      "$ref": "#/components/responses/E503"
     }
    },
    "parameters": [
     {
      "name": "id",
      "in": "path",
      "required": true,
      "description": "Snapshot: full id, unique prefix of 6+ hex digits, or `latest`.",
      "schema": {
       "type": "string",
       "pattern": "^([0-9a-fA-F]{6,64}|latest)$"
      }
     },
     {
      "name": "silo",
      "in": "query",
      "description": "Silo name (repeatable).",
      "required": false,
      "schema": {
       "type": "array",
       "items": {
        "type": "string",
        "pattern": "^[A-Za-z0-9_][A-Za-z0-9._-]{0,63}$"
       }
      },
      "style": "form",
      "explode": true
     },
     {
      "name": "compression",
      "in": "query",
      "description": "store, deflate or auto.",
      "required": false,
      "schema": {
       "type": "string",
       "enum": [
        "store",
        "deflate",
        "auto"
       ],
       "default": "store"
      }
     },
     {
      "name": "level",
      "in": "query",
      "description": "zlib level, 1-9.",
      "required": false,
      "schema": {
       "type": "integer",
       "minimum": 1,
       "maximum": 9,
       "default": 1
      }
     }
    ],
    "tags": [
     "export"
    ]
   }
  },
  "/api/v1/diff": {
   "get": {
    "summary": "Changes between two snapshots, or a snapshot and the live silos (b=live)",
    "operationId": "diff",
    "responses": {
     "200": {
      "description": "The `cairn diff --json` document",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Diff"
        }
       }
      }
     },
     "400": {
      "$ref": "#/components/responses/E400"
     },
     "404": {
      "$ref": "#/components/responses/E404"
     },
     "401": {
      "$ref": "#/components/responses/E401"
     },
     "403": {
      "$ref": "#/components/responses/E403"
     },
     "405": {
      "$ref": "#/components/responses/E405"
     },
     "500": {
      "$ref": "#/components/responses/E500"
     },
     "503": {
      "$ref": "#/components/responses/E503"
     }
    },
    "parameters": [
     {
      "name": "a",
      "in": "query",
      "description": "Snapshot A.",
      "required": true,
      "schema": {
       "type": "string",
       "pattern": "^([0-9a-fA-F]{6,64}|latest)$"
      }
     },
     {
      "name": "b",
      "in": "query",
      "description": "Snapshot B, or live.",
      "required": true,
      "schema": {
       "type": "string",
       "pattern": "^([0-9a-fA-F]{6,64}|latest|live)$"
      }
     },
     {
      "name": "silo",
      "in": "query",
      "description": "Silo name (repeatable).",
      "required": false,
      "schema": {
       "type": "array",
       "items": {
        "type": "string",
        "pattern": "^[A-Za-z0-9_][A-Za-z0-9._-]{0,63}$"
       }
      },
      "style": "form",
      "explode": true
     },
     {
      "name": "metadata",
      "in": "query",
      "description": "Also report mode and mtime changes.",
      "required": false,
      "schema": {
       "type": "boolean"
      }
     }
    ],
    "tags": [
     "read"
    ]
   }
  },
  "/api/v1/estimate": {
   "get": {
    "summary": "Files and bytes the silos hold now and what changed since their latest snapshot",
    "operationId": "estimate",
    "responses": {
     "200": {
      "description": "Per silo",
      "content": {
       "application/json": {
        "schema": {
         "type": "array",
         "items": {
          "$ref": "#/components/schemas/SiloEstimate"
         }
        }
       }
      }
     },
     "404": {
      "$ref": "#/components/responses/E404"
     },
     "401": {
      "$ref": "#/components/responses/E401"
     },
     "403": {
      "$ref": "#/components/responses/E403"
     },
     "405": {
      "$ref": "#/components/responses/E405"
     },
     "500": {
      "$ref": "#/components/responses/E500"
     },
     "503": {
      "$ref": "#/components/responses/E503"
     }
    },
    "parameters": [
     {
      "name": "silo",
      "in": "query",
      "description": "Silo name (repeatable).",
      "required": false,
      "schema": {
       "type": "array",
       "items": {
        "type": "string",
        "pattern": "^[A-Za-z0-9_][A-Za-z0-9._-]{0,63}$"
       }
      },
      "style": "form",
      "explode": true
     }
    ],
    "tags": [
     "read"
    ]
   }
  },
  "/api/v1/restore/dry-run": {
   "post": {
    "summary": "What a restore would change (nothing is written)",
    "operationId": "restoreDryRun",
    "responses": {
     "200": {
      "description": "The dry-run report",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/DryRun"
        }
       }
      }
     },
     "400": {
      "$ref": "#/components/responses/E400"
     },
     "404": {
      "$ref": "#/components/responses/E404"
     },
     "409": {
      "$ref": "#/components/responses/E409"
     },
     "401": {
      "$ref": "#/components/responses/E401"
     },
     "403": {
      "$ref": "#/components/responses/E403"
     },
     "405": {
      "$ref": "#/components/responses/E405"
     },
     "500": {
      "$ref": "#/components/responses/E500"
     },
     "503": {
      "$ref": "#/components/responses/E503"
     }
    },
    "description": "The same report as `cairn restore --dry-run --json`; openFiles lists processes holding silo files open.",
    "requestBody": {
     "required": true,
     "content": {
      "application/json": {
       "schema": {
        "$ref": "#/components/schemas/DryRunRequest"
       }
      }
     }
    },
    "tags": [
     "restore"
    ]
   }
  },
  "/api/v1/uploads": {
   "post": {
    "summary": "Upload an archive (raw body or multipart file part), spooled and inspected; nothing is imported yet",
    "operationId": "upload",
    "responses": {
     "201": {
      "description": "Spooled and inspected",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Upload"
        }
       }
      }
     },
     "202": {
      "description": "With import=true: the import job",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Job"
        }
       }
      }
     },
     "400": {
      "$ref": "#/components/responses/E400"
     },
     "413": {
      "$ref": "#/components/responses/E413"
     },
     "422": {
      "$ref": "#/components/responses/E422"
     },
     "401": {
      "$ref": "#/components/responses/E401"
     },
     "403": {
      "$ref": "#/components/responses/E403"
     },
     "405": {
      "$ref": "#/components/responses/E405"
     },
     "500": {
      "$ref": "#/components/responses/E500"
     }
    },
    "parameters": [
     {
      "name": "import",
      "in": "query",
      "description": "Start an import job at once.",
      "required": false,
      "schema": {
       "type": "boolean"
      }
     },
     {
      "name": "restore",
      "in": "query",
      "description": "With import: restore right after (with a safety snapshot).",
      "required": false,
      "schema": {
       "type": "boolean"
      }
     },
     {
      "name": "tag",
      "in": "query",
      "description": "Tag for the imported snapshot (repeatable).",
      "required": false,
      "schema": {
       "type": "string"
      }
     },
     {
      "name": "silo",
      "in": "query",
      "description": "Silo name (repeatable).",
      "required": false,
      "schema": {
       "type": "array",
       "items": {
        "type": "string",
        "pattern": "^[A-Za-z0-9_][A-Za-z0-9._-]{0,63}$"
       }
      },
      "style": "form",
      "explode": true
     }
    ],
    "requestBody": {
     "required": true,
     "content": {
      "application/zip": {
       "schema": {
        "type": "string",
        "format": "binary"
       }
      },
      "multipart/form-data": {
       "schema": {
        "type": "object",
        "properties": {
         "file": {
          "type": "string",
          "format": "binary"
         }
        }
       }
      }
     }
    },
    "tags": [
     "import"
    ]
   }
  },
  "/api/v1/uploads/{id}": {
   "get": {
    "summary": "An upload's inspection result",
    "operationId": "getUpload",
    "responses": {
     "200": {
      "description": "Upload",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Upload"
        }
       }
      }
     },
     "404": {
      "$ref": "#/components/responses/E404"
     },
     "401": {
      "$ref": "#/components/responses/E401"
     },
     "403": {
      "$ref": "#/components/responses/E403"
     },
     "405": {
      "$ref": "#/components/responses/E405"
     }
    },
    "parameters": [
     {
      "name": "id",
      "in": "path",
      "required": true,
      "description": "Upload id.",
      "schema": {
       "type": "string"
      }
     }
    ],
    "tags": [
     "import"
    ]
   },
   "delete": {
    "summary": "Discard an upload (its spool file is removed)",
    "operationId": "discardUpload",
    "responses": {
     "200": {
      "description": "Discarded",
      "content": {
       "application/json": {
        "schema": {
         "type": "object",
         "properties": {
          "discarded": {
           "type": "string"
          }
         }
        }
       }
      }
     },
     "404": {
      "$ref": "#/components/responses/E404"
     },
     "401": {
      "$ref": "#/components/responses/E401"
     },
     "403": {
      "$ref": "#/components/responses/E403"
     },
     "405": {
      "$ref": "#/components/responses/E405"
     }
    },
    "parameters": [
     {
      "name": "id",
      "in": "path",
      "required": true,
      "description": "Upload id.",
      "schema": {
       "type": "string"
      }
     }
    ],
    "tags": [
     "import"
    ]
   }
  },
  "/api/v1/jobs": {
   "get": {
    "summary": "All jobs, newest first",
    "operationId": "listJobs",
    "responses": {
     "200": {
      "description": "Jobs",
      "content": {
       "application/json": {
        "schema": {
         "type": "array",
         "items": {
          "$ref": "#/components/schemas/Job"
         }
        }
       }
      }
     },
     "401": {
      "$ref": "#/components/responses/E401"
     },
     "403": {
      "$ref": "#/components/responses/E403"
     },
     "405": {
      "$ref": "#/components/responses/E405"
     }
    },
    "tags": [
     "jobs"
    ]
   },
   "post": {
    "summary": "Start a job: snapshot, restore, check, prune or import",
    "operationId": "createJob",
    "responses": {
     "202": {
      "description": "Started",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Job"
        }
       }
      }
     },
     "400": {
      "$ref": "#/components/responses/E400"
     },
     "404": {
      "$ref": "#/components/responses/E404"
     },
     "409": {
      "$ref": "#/components/responses/E409"
     },
     "413": {
      "$ref": "#/components/responses/E413"
     },
     "401": {
      "$ref": "#/components/responses/E401"
     },
     "403": {
      "$ref": "#/components/responses/E403"
     },
     "405": {
      "$ref": "#/components/responses/E405"
     },
     "500": {
      "$ref": "#/components/responses/E500"
     },
     "503": {
      "$ref": "#/components/responses/E503"
     }
    },
    "description": "A restore while processes hold silo files open is refused with 409 files-open (detail.processes, detail.openFiles) unless force is true.",
    "requestBody": {
     "required": true,
     "content": {
      "application/json": {
       "schema": {
        "$ref": "#/components/schemas/JobRequest"
       }
      }
     }
    },
    "tags": [
     "jobs"
    ]
   }
  },
  "/api/v1/jobs/{id}": {
   "get": {
    "summary": "A job: state, progress, result or error",
    "operationId": "getJob",
    "responses": {
     "200": {
      "description": "Job",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Job"
        }
       }
      }
     },
     "404": {
      "$ref": "#/components/responses/E404"
     },
     "401": {
      "$ref": "#/components/responses/E401"
     },
     "403": {
      "$ref": "#/components/responses/E403"
     },
     "405": {
      "$ref": "#/components/responses/E405"
     }
    },
    "parameters": [
     {
      "name": "id",
      "in": "path",
      "required": true,
      "description": "Job id.",
      "schema": {
       "type": "string"
      }
     }
    ],
    "tags": [
     "jobs"
    ]
   },
   "delete": {
    "summary": "Cancel a job (every kind: it stops at its next check and leaves the repository and live files as they were; a restore already swapping completes)",
    "operationId": "cancelJob",
    "responses": {
     "202": {
      "description": "Cancel requested",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Job"
        }
       }
      }
     },
     "404": {
      "$ref": "#/components/responses/E404"
     },
     "409": {
      "$ref": "#/components/responses/E409"
     },
     "401": {
      "$ref": "#/components/responses/E401"
     },
     "403": {
      "$ref": "#/components/responses/E403"
     },
     "405": {
      "$ref": "#/components/responses/E405"
     }
    },
    "parameters": [
     {
      "name": "id",
      "in": "path",
      "required": true,
      "description": "Job id.",
      "schema": {
       "type": "string"
      }
     }
    ],
    "tags": [
     "jobs"
    ]
   }
  },
  "/api/v1/jobs/{id}/events": {
   "get": {
    "summary": "Progress as Server-Sent Events",
    "operationId": "jobEvents",
    "responses": {
     "200": {
      "description": "`event: progress` with the job as data whenever it changes, then `event: end`"
     },
     "404": {
      "$ref": "#/components/responses/E404"
     },
     "401": {
      "$ref": "#/components/responses/E401"
     },
     "403": {
      "$ref": "#/components/responses/E403"
     },
     "405": {
      "$ref": "#/components/responses/E405"
     }
    },
    "parameters": [
     {
      "name": "id",
      "in": "path",
      "required": true,
      "description": "Job id.",
      "schema": {
       "type": "string"
      }
     }
    ],
    "tags": [
     "jobs"
    ]
   }
  },
  "/api/v1/forget": {
   "post": {
    "summary": "Remove snapshots by id or by a retention policy (blocks stay until prune)",
    "operationId": "forget",
    "responses": {
     "200": {
      "description": "Decisions",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Forget"
        }
       }
      }
     },
     "400": {
      "$ref": "#/components/responses/E400"
     },
     "404": {
      "$ref": "#/components/responses/E404"
     },
     "401": {
      "$ref": "#/components/responses/E401"
     },
     "403": {
      "$ref": "#/components/responses/E403"
     },
     "405": {
      "$ref": "#/components/responses/E405"
     },
     "500": {
      "$ref": "#/components/responses/E500"
     },
     "503": {
      "$ref": "#/components/responses/E503"
     }
    },
    "requestBody": {
     "required": true,
     "content": {
      "application/json": {
       "schema": {
        "$ref": "#/components/schemas/ForgetRequest"
       }
      }
     }
    },
    "tags": [
     "maintenance"
    ]
   }
  },
  "/api/v1/policy": {
   "get": {
    "summary": "The stored retention policy",
    "operationId": "getPolicy",
    "responses": {
     "200": {
      "description": "Policy or null",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/PolicyDoc"
        }
       }
      }
     },
     "401": {
      "$ref": "#/components/responses/E401"
     },
     "403": {
      "$ref": "#/components/responses/E403"
     },
     "405": {
      "$ref": "#/components/responses/E405"
     },
     "500": {
      "$ref": "#/components/responses/E500"
     },
     "503": {
      "$ref": "#/components/responses/E503"
     }
    },
    "tags": [
     "maintenance"
    ]
   },
   "put": {
    "summary": "Store a retention policy (applied after every snapshot)",
    "operationId": "setPolicy",
    "responses": {
     "200": {
      "description": "Stored",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/PolicyDoc"
        }
       }
      }
     },
     "400": {
      "$ref": "#/components/responses/E400"
     },
     "404": {
      "$ref": "#/components/responses/E404"
     },
     "401": {
      "$ref": "#/components/responses/E401"
     },
     "403": {
      "$ref": "#/components/responses/E403"
     },
     "405": {
      "$ref": "#/components/responses/E405"
     },
     "500": {
      "$ref": "#/components/responses/E500"
     },
     "503": {
      "$ref": "#/components/responses/E503"
     }
    },
    "requestBody": {
     "required": true,
     "content": {
      "application/json": {
       "schema": {
        "$ref": "#/components/schemas/Policy"
       }
      }
     }
    },
    "tags": [
     "maintenance"
    ]
   },
   "delete": {
    "summary": "Remove the stored policy",
    "operationId": "clearPolicy",
    "responses": {
     "200": {
      "description": "Cleared",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/PolicyDoc"
        }
       }
      }
     },
     "401": {
      "$ref": "#/components/responses/E401"
     },
     "403": {
      "$ref": "#/components/responses/E403"
     },
     "405": {
      "$ref": "#/components/responses/E405"
     },
     "500": {
      "$ref": "#/components/responses/E500"
     },
     "503": {
      "$ref": "#/components/responses/E503"
     }
    },
    "tags": [
     "maintenance"
    ]
   }
  }
 },
 "components": {
  "schemas": {
   "Error": {
    "type": "object",
    "properties": {
     "code": {
      "type": "string"
     },
     "message": {
      "type": "string"
     },
     "hint": {
      "type": "string"
     },
     "detail": {
      "type": "object"
     }
    },
    "required": [
     "code",
     "message",
     "hint"
    ]
   },
   "SiloSnapshot": {
    "type": "object",
    "properties": {
     "name": {
      "type": "string"
     },
     "kind": {
      "type": "string"
     },
     "tree": {
      "type": "string"
     },
     "source": {
      "type": "string"
     },
     "files": {
      "type": "integer"
     },
     "dirs": {
      "type": "integer"
     },
     "symlinks": {
      "type": "integer"
     },
     "bytes": {
      "type": "integer"
     },
     "filesRead": {
      "type": "integer"
     },
     "sqliteDatabases": {
      "type": "integer"
     },
     "warnings": {
      "type": "array",
      "items": {
       "type": "string"
      }
     }
    }
   },
   "Snapshot": {
    "type": "object",
    "properties": {
     "id": {
      "type": "string"
     },
     "shortId": {
      "type": "string"
     },
     "time": {
      "type": "string",
      "format": "date-time"
     },
     "timeNs": {
      "type": "integer"
     },
     "hostname": {
      "type": "string"
     },
     "tags": {
      "type": "array",
      "items": {
       "type": "string"
      }
     },
     "message": {
      "type": "string"
     },
     "parent": {
      "type": "string"
     },
     "partial": {
      "type": "boolean"
     },
     "bytes": {
      "type": "integer"
     },
     "files": {
      "type": "integer"
     },
     "bytesAdded": {
      "type": "integer"
     },
     "silos": {
      "type": "array",
      "items": {
       "$ref": "#/components/schemas/SiloSnapshot"
      }
     }
    },
    "required": [
     "id",
     "shortId",
     "time",
     "timeNs",
     "tags",
     "silos",
     "bytes"
    ]
   },
   "SnapshotPage": {
    "type": "object",
    "properties": {
     "total": {
      "type": "integer"
     },
     "offset": {
      "type": "integer"
     },
     "limit": {
      "type": "integer"
     },
     "items": {
      "type": "array",
      "items": {
       "$ref": "#/components/schemas/Snapshot"
      }
     }
    },
    "required": [
     "total",
     "offset",
     "limit",
     "items"
    ]
   },
   "Silo": {
    "type": "object",
    "properties": {
     "name": {
      "type": "string"
     },
     "kind": {
      "type": "string"
     },
     "source": {
      "type": "string"
     },
     "excludes": {
      "type": "array",
      "items": {
       "type": "string"
      }
     },
     "latestSnapshot": {
      "$ref": "#/components/schemas/Snapshot"
     }
    },
    "required": [
     "name",
     "kind"
    ]
   },
   "Status": {
    "type": "object",
    "properties": {
     "repository": {
      "type": "string"
     },
     "repositoryId": {
      "type": "string"
     },
     "formatVersion": {
      "type": "integer"
     },
     "server": {
      "type": "string"
     },
     "snapshots": {
      "type": "integer"
     },
     "silos": {
      "type": "array",
      "items": {
       "$ref": "#/components/schemas/Silo"
      }
     },
     "freeBytes": {
      "type": "integer"
     },
     "jobs": {
      "type": "array",
      "items": {
       "$ref": "#/components/schemas/Job"
      }
     },
     "recovered": {
      "type": "string"
     }
    },
    "required": [
     "repository",
     "silos",
     "jobs",
     "snapshots"
    ]
   },
   "LsPage": {
    "type": "object",
    "properties": {
     "snapshot": {
      "type": "string"
     },
     "path": {
      "type": "string"
     },
     "truncated": {
      "type": "boolean"
     },
     "items": {
      "type": "array",
      "items": {
       "type": "object",
       "properties": {
        "path": {
         "type": "string"
        },
        "type": {
         "type": "string"
        },
        "mode": {
         "type": "string"
        },
        "size": {
         "type": "integer"
        },
        "mtime": {
         "type": "string"
        },
        "target": {
         "type": "string"
        }
       }
      }
     }
    },
    "required": [
     "snapshot",
     "items",
     "truncated"
    ]
   },
   "Diff": {
    "type": "object",
    "description": "The `cairn diff --json` document (Docs/Diff.md).",
    "properties": {
     "version": {
      "type": "integer"
     },
     "silos": {
      "type": "array"
     },
     "totals": {
      "type": "object"
     }
    }
   },
   "SiloEstimate": {
    "type": "object",
    "properties": {
     "silo": {
      "type": "string"
     },
     "files": {
      "type": "integer"
     },
     "dirs": {
      "type": "integer"
     },
     "bytes": {
      "type": "integer"
     },
     "changedFiles": {
      "type": "integer"
     },
     "changedBytes": {
      "type": "integer"
     },
     "hasSnapshot": {
      "type": "boolean"
     }
    }
   },
   "ExportEstimate": {
    "type": "object",
    "properties": {
     "snapshot": {
      "type": "string"
     },
     "silos": {
      "type": "array",
      "items": {
       "type": "string"
      }
     },
     "compression": {
      "type": "string"
     },
     "exact": {
      "type": "boolean"
     },
     "archiveBytes": {
      "type": "integer"
     },
     "estimate": {
      "type": "object"
     }
    },
    "required": [
     "archiveBytes",
     "exact"
    ]
   },
   "Progress": {
    "type": "object",
    "properties": {
     "phase": {
      "type": "string"
     },
     "files": {
      "type": "integer"
     },
     "bytes": {
      "type": "integer"
     },
     "total": {
      "type": "integer"
     },
     "percent": {
      "type": "number"
     },
     "rate": {
      "type": "number"
     },
     "eta": {
      "type": "number"
     },
     "currentPath": {
      "type": "string"
     }
    }
   },
   "Job": {
    "type": "object",
    "properties": {
     "id": {
      "type": "string"
     },
     "type": {
      "type": "string",
      "enum": [
       "snapshot",
       "restore",
       "check",
       "prune",
       "import"
      ]
     },
     "state": {
      "type": "string",
      "enum": [
       "queued",
       "running",
       "succeeded",
       "failed",
       "cancelled",
       "interrupted"
      ]
     },
     "createdBy": {
      "type": "string"
     },
     "createdAt": {
      "type": "string"
     },
     "startedAt": {
      "type": "string"
     },
     "finishedAt": {
      "type": "string"
     },
     "params": {
      "type": "object"
     },
     "progress": {
      "$ref": "#/components/schemas/Progress"
     },
     "result": {
      "description": "The operation's report (snapshot, RestoreResult, CheckReport, PruneReport, ImportResult)."
     },
     "error": {
      "$ref": "#/components/schemas/Error"
     },
     "cancellable": {
      "type": "boolean"
     }
    },
    "required": [
     "id",
     "type",
     "state",
     "progress",
     "cancellable"
    ]
   },
   "JobRequest": {
    "oneOf": [
     {
      "type": "object",
      "properties": {
       "type": {
        "const": "snapshot"
       },
       "silos": {
        "type": "array",
        "items": {
         "type": "string",
         "pattern": "^[A-Za-z0-9_][A-Za-z0-9._-]{0,63}$"
        }
       },
       "tags": {
        "type": "array",
        "items": {
         "type": "string"
        }
       },
       "message": {
        "type": "string"
       }
      },
      "required": [
       "type"
      ]
     },
     {
      "type": "object",
      "properties": {
       "type": {
        "const": "restore"
       },
       "snapshot": {
        "type": "string",
        "pattern": "^([0-9a-fA-F]{6,64}|latest)$"
       },
       "silos": {
        "type": "array",
        "items": {
         "type": "string",
         "pattern": "^[A-Za-z0-9_][A-Za-z0-9._-]{0,63}$"
        }
       },
       "include": {
        "type": "array",
        "items": {
         "type": "string"
        }
       },
       "to": {
        "type": "string"
       },
       "safetySnapshot": {
        "type": "boolean"
       },
       "force": {
        "type": "boolean"
       }
      },
      "required": [
       "type",
       "snapshot"
      ]
     },
     {
      "type": "object",
      "properties": {
       "type": {
        "const": "check"
       },
       "readData": {
        "type": "boolean"
       }
      },
      "required": [
       "type"
      ]
     },
     {
      "type": "object",
      "properties": {
       "type": {
        "const": "prune"
       },
       "maxUnusedPercent": {
        "type": "number",
        "minimum": 0,
        "maximum": 100
       },
       "dryRun": {
        "type": "boolean"
       }
      },
      "required": [
       "type"
      ]
     },
     {
      "type": "object",
      "properties": {
       "type": {
        "const": "import"
       },
       "upload": {
        "type": "string",
        "pattern": "^u[0-9a-f]{16}$"
       },
       "tags": {
        "type": "array",
        "items": {
         "type": "string"
        }
       },
       "asSilo": {
        "type": "array",
        "items": {
         "type": "string"
        }
       },
       "restore": {
        "type": "boolean"
       },
       "silos": {
        "type": "array",
        "items": {
         "type": "string",
         "pattern": "^[A-Za-z0-9_][A-Za-z0-9._-]{0,63}$"
        }
       },
       "force": {
        "type": "boolean"
       }
      },
      "required": [
       "type",
       "upload"
      ]
     }
    ]
   },
   "DryRunRequest": {
    "type": "object",
    "properties": {
     "snapshot": {
      "type": "string",
      "pattern": "^([0-9a-fA-F]{6,64}|latest)$"
     },
     "silos": {
      "type": "array",
      "items": {
       "type": "string",
       "pattern": "^[A-Za-z0-9_][A-Za-z0-9._-]{0,63}$"
      }
     },
     "include": {
      "type": "array",
      "items": {
       "type": "string"
      }
     }
    },
    "required": [
     "snapshot"
    ]
   },
   "DryRun": {
    "type": "object",
    "properties": {
     "result": {
      "type": "object",
      "description": "RestoreResult, as `cairn restore --dry-run --json`."
     },
     "changes": {
      "type": "array",
      "items": {
       "type": "object",
       "properties": {
        "change": {
         "type": "string"
        },
        "path": {
         "type": "string"
        }
       }
      }
     },
     "truncated": {
      "type": "boolean"
     }
    },
    "required": [
     "result",
     "changes",
     "truncated"
    ]
   },
   "Upload": {
    "type": "object",
    "properties": {
     "id": {
      "type": "string"
     },
     "size": {
      "type": "integer"
     },
     "filename": {
      "type": "string"
     },
     "summary": {
      "type": "object",
      "description": "ArchiveSummary, as `cairn inspect --json`."
     }
    },
    "required": [
     "id",
     "size",
     "summary"
    ]
   },
   "Policy": {
    "type": "object",
    "properties": {
     "keepLast": {
      "type": "integer",
      "minimum": 0
     },
     "keepHourly": {
      "type": "integer",
      "minimum": 0
     },
     "keepDaily": {
      "type": "integer",
      "minimum": 0
     },
     "keepWeekly": {
      "type": "integer",
      "minimum": 0
     },
     "keepMonthly": {
      "type": "integer",
      "minimum": 0
     },
     "keepYearly": {
      "type": "integer",
      "minimum": 0
     },
     "keepWithin": {
      "type": "string",
      "pattern": "^([1-9][0-9]{0,3}[ymdh])+$",
      "example": "2d3h"
     },
     "keepTags": {
      "type": "array",
      "items": {
       "type": "string"
      }
     },
     "silo": {
      "type": "string",
      "pattern": "^[A-Za-z0-9_][A-Za-z0-9._-]{0,63}$"
     }
    },
    "description": "At least one rule must keep something (an empty policy would remove every snapshot).",
    "anyOf": [
     {
      "required": [
       "keepLast"
      ],
      "properties": {
       "keepLast": {
        "minimum": 1
       }
      }
     },
     {
      "required": [
       "keepHourly"
      ],
      "properties": {
       "keepHourly": {
        "minimum": 1
       }
      }
     },
     {
      "required": [
       "keepDaily"
      ],
      "properties": {
       "keepDaily": {
        "minimum": 1
       }
      }
     },
     {
      "required": [
       "keepWeekly"
      ],
      "properties": {
       "keepWeekly": {
        "minimum": 1
       }
      }
     },
     {
      "required": [
       "keepMonthly"
      ],
      "properties": {
       "keepMonthly": {
        "minimum": 1
       }
      }
     },
     {
      "required": [
       "keepYearly"
      ],
      "properties": {
       "keepYearly": {
        "minimum": 1
       }
      }
     },
     {
      "required": [
       "keepWithin"
      ]
     },
     {
      "required": [
       "keepTags"
      ],
      "properties": {
       "keepTags": {
        "minItems": 1
       }
      }
     }
    ]
   },
   "PolicyDoc": {
    "type": "object",
    "properties": {
     "policy": {
      "oneOf": [
       {
        "$ref": "#/components/schemas/Policy"
       },
       {
        "type": "null"
       }
      ]
     }
    },
    "required": [
     "policy"
    ]
   },
   "ForgetRequest": {
    "oneOf": [
     {
      "type": "object",
      "properties": {
       "ids": {
        "type": "array",
        "items": {
         "type": "string",
         "pattern": "^([0-9a-fA-F]{6,64}|latest)$"
        },
        "minItems": 1
       },
       "dryRun": {
        "type": "boolean"
       }
      },
      "required": [
       "ids"
      ]
     },
     {
      "type": "object",
      "properties": {
       "policy": {
        "$ref": "#/components/schemas/Policy"
       },
       "dryRun": {
        "type": "boolean"
       }
      },
      "required": [
       "policy"
      ]
     }
    ],
    "description": "Snapshot ids, or a policy; `{}` applies the stored policy (400 when none is stored)."
   },
   "Forget": {
    "type": "object",
    "properties": {
     "dryRun": {
      "type": "boolean"
     },
     "removed": {
      "type": "array",
      "items": {
       "type": "string"
      }
     },
     "decisions": {
      "type": "array",
      "items": {
       "type": "object",
       "properties": {
        "id": {
         "type": "string"
        },
        "time": {
         "type": "string"
        },
        "group": {
         "type": "string"
        },
        "keep": {
         "type": "boolean"
        },
        "reasons": {
         "type": "array",
         "items": {
          "type": "string"
         }
        }
       }
      }
     }
    },
    "required": [
     "dryRun",
     "removed",
     "decisions"
    ]
   }
  },
  "responses": {
   "E400": {
    "description": "Bad parameters or body (code bad-request, invalid-input, ambiguous).",
    "content": {
     "application/json": {
      "schema": {
       "$ref": "#/components/schemas/Error"
      }
     }
    }
   },
   "E401": {
    "description": "Missing or wrong bearer token (code unauthorized).",
    "content": {
     "application/json": {
      "schema": {
       "$ref": "#/components/schemas/Error"
      }
     }
    }
   },
   "E403": {
    "description": "Read-only token on a write, or a non-loopback Host without tokens (code read-only, bad-host).",
    "content": {
     "application/json": {
      "schema": {
       "$ref": "#/components/schemas/Error"
      }
     }
    }
   },
   "E404": {
    "description": "Unknown snapshot, silo, path, job or upload (code not-found).",
    "content": {
     "application/json": {
      "schema": {
       "$ref": "#/components/schemas/Error"
      }
     }
    }
   },
   "E405": {
    "description": "Method not allowed on this path (code method-not-allowed).",
    "content": {
     "application/json": {
      "schema": {
       "$ref": "#/components/schemas/Error"
      }
     }
    }
   },
   "E409": {
    "description": "Conflict: files held open (files-open, with detail.processes), job not cancellable, already exists, busy.",
    "content": {
     "application/json": {
      "schema": {
       "$ref": "#/components/schemas/Error"
      }
     }
    }
   },
   "E413": {
    "description": "Upload larger than the server's --max-upload (code too-large).",
    "content": {
     "application/json": {
      "schema": {
       "$ref": "#/components/schemas/Error"
      }
     }
    }
   },
   "E422": {
    "description": "An uploaded archive refused by the hostile-archive rules, or a silo that cannot be read.",
    "content": {
     "application/json": {
      "schema": {
       "$ref": "#/components/schemas/Error"
      }
     }
    }
   },
   "E500": {
    "description": "Internal, I/O or repository integrity failure.",
    "content": {
     "application/json": {
      "schema": {
       "$ref": "#/components/schemas/Error"
      }
     }
    }
   },
   "E503": {
    "description": "The repository stayed locked (prune, another process) longer than the request waits (code locked).",
    "content": {
     "application/json": {
      "schema": {
       "$ref": "#/components/schemas/Error"
      }
     }
    }
   },
   "E507": {
    "description": "No space left on the repository's filesystem (code no-space).",
    "content": {
     "application/json": {
      "schema": {
       "$ref": "#/components/schemas/Error"
      }
     }
    }
   }
  },
  "securitySchemes": {
   "bearer": {
    "type": "http",
    "scheme": "bearer"
   }
  }
 }
}

"""#
}
