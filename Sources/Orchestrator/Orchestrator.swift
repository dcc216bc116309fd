import CLibvirt
import CVMProtocol
