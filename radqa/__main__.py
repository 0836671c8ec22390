import sys

from radqa.cli import main

if __name__ == "__main__":  # not when a worker process (ingest.dicom) imports it
    sys.exit(main())
