import sys

from keras_electra.cli import main

sys.exit(main())
