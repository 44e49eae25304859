"""python -m leadgate.cli"""

from leadgate.cli import main

main()
